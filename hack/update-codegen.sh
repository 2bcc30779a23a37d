#!/usr/bin/env bash
# Regenerates everything derived from the API types in apis/projectcontour/v1
# and apis/projectcontour/v1alpha1:
#   - deepcopy functions  apis/projectcontour/*/zz_generated.deepcopy.go
#   - typed clientset     apis/generated/clientset/versioned
#   - listers             apis/generated/listers/projectcontour/{v1,v1alpha1}
#   - informers           apis/generated/informers/externalversions
#   - CRD manifests       examples/crds/projectcontour.io_*.yaml
#
# Usage: hack/update-codegen.sh [ROOT]
#
# ROOT is the source tree to regenerate in place; it defaults to this
# repository. hack/verify-codegen.sh passes a temporary copy. The generators
# are always the ones pinned in this repository's tools/codegen/go.mod.
# Output is deterministic: running the script twice leaves no diff.
set -euo pipefail

SCRIPT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
ROOT="$(cd "${1:-${SCRIPT_ROOT}}" && pwd -P)"

readonly MODULE="github.com/proxyctl/proxyctl"
readonly API_ROOT="apis/projectcontour"
# The group versions, each a package under API_ROOT.
readonly VERSIONS=(v1 v1alpha1)
readonly GEN_DIR="apis/generated"
readonly CRD_DIR="examples/crds"
readonly BOILERPLATE="${SCRIPT_ROOT}/hack/boilerplate.go.txt"

# Locale-independent sorting and a fixed environment keep output stable.
export LC_ALL=C
export GO111MODULE=on
export GOWORK=off

# tool NAME prints the path of the pinned generator NAME, building it into
# the Go build cache first if needed.
tool() {
	(cd "${SCRIPT_ROOT}/tools/codegen" && go tool -n "$1")
}

echo "Building code generators (tools/codegen/go.mod)"
CONTROLLER_GEN="$(tool controller-gen)"
CLIENT_GEN="$(tool client-gen)"
LISTER_GEN="$(tool lister-gen)"
INFORMER_GEN="$(tool informer-gen)"

cd "${ROOT}"

# Start from a clean slate so files for removed types do not linger.
rm -rf "${GEN_DIR}"
for v in "${VERSIONS[@]}"; do
	rm -f "${API_ROOT}/${v}/zz_generated.deepcopy.go"
done
mkdir -p "${CRD_DIR}"
find "${CRD_DIR}" -maxdepth 1 -name 'projectcontour.io_*.yaml' -delete

echo "Generating deepcopy functions and CRD manifests (controller-gen)"
# Deepcopy functions land in each package's own directory.
"${CONTROLLER_GEN}" \
	object:headerFile="${BOILERPLATE}" \
	crd:crdVersions=v1 \
	paths="./${API_ROOT}/..." \
	output:crd:dir="./${CRD_DIR}"

# core/v1 PortStatus marks "error" both optional and required, and
# controller-gen keeps it required: the API server then refuses every
# HTTPProxy status.loadBalancer whose ports carry no error (a healthy load
# balancer's), as Contour found (projectcontour/contour#7391, fixed in its
# CRD by the same edit). There is exactly one such line; anything else
# means the schema changed and this edit must be looked at again.
readonly HTTPPROXY_CRD="${CRD_DIR}/projectcontour.io_httpproxies.yaml"
if [ "$(grep -c -E '^ +- error$' "${HTTPPROXY_CRD}")" != 1 ]; then
	echo "${HTTPPROXY_CRD}: expected exactly one required \"error\" (loadBalancer ports); the schema changed" >&2
	exit 1
fi
sed -i -E '/^ +- error$/d' "${HTTPPROXY_CRD}"

echo "Generating clientset (client-gen)"
"${CLIENT_GEN}" \
	--go-header-file "${BOILERPLATE}" \
	--clientset-name versioned \
	--input-base "${MODULE}/apis" \
	--input projectcontour/v1 \
	--input projectcontour/v1alpha1 \
	--output-dir "${GEN_DIR}/clientset" \
	--output-pkg "${MODULE}/${GEN_DIR}/clientset"

echo "Generating listers (lister-gen)"
"${LISTER_GEN}" \
	--go-header-file "${BOILERPLATE}" \
	--output-dir "${GEN_DIR}/listers" \
	--output-pkg "${MODULE}/${GEN_DIR}/listers" \
	"${MODULE}/${API_ROOT}/v1" "${MODULE}/${API_ROOT}/v1alpha1"

echo "Generating informers (informer-gen)"
"${INFORMER_GEN}" \
	--go-header-file "${BOILERPLATE}" \
	--versioned-clientset-package "${MODULE}/${GEN_DIR}/clientset/versioned" \
	--listers-package "${MODULE}/${GEN_DIR}/listers" \
	--output-dir "${GEN_DIR}/informers" \
	--output-pkg "${MODULE}/${GEN_DIR}/informers" \
	"${MODULE}/${API_ROOT}/v1" "${MODULE}/${API_ROOT}/v1alpha1"

echo "Code generation done in ${ROOT}"
