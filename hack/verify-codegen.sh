#!/usr/bin/env bash
# Fails when the generated code or CRD manifests are out of date with the
# API types. It copies the inputs to a temporary tree, regenerates there
# with hack/update-codegen.sh and compares the result with this tree.
#
# Usage: hack/verify-codegen.sh
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "${REPO_ROOT}"

# Paths written by hack/update-codegen.sh.
GENERATED=(
	apis/projectcontour/v1/zz_generated.deepcopy.go
	apis/projectcontour/v1alpha1/zz_generated.deepcopy.go
	apis/generated
	examples/crds
)

TMP="$(mktemp -d "${TMPDIR:-/tmp}/verify-codegen.XXXXXX")"
trap 'rm -rf "${TMP}"' EXIT

# The generators load the API package as part of the main module, so the
# copy needs the module files and the whole apis tree.
cp go.mod go.sum "${TMP}/"
mkdir -p "${TMP}/examples"
cp -R apis "${TMP}/apis"
if [[ -d examples/crds ]]; then
	cp -R examples/crds "${TMP}/examples/crds"
fi

if ! "${REPO_ROOT}/hack/update-codegen.sh" "${TMP}" >"${TMP}.log" 2>&1; then
	cat "${TMP}.log" >&2
	rm -f "${TMP}.log"
	echo "verify-codegen: code generation failed (see above)" >&2
	exit 1
fi
rm -f "${TMP}.log"

# describe turns one line of `diff -rq REPO TMP` into "what: path".
describe() {
	local line="$1" rest
	case "${line}" in
	"Files ${REPO_ROOT}/"*)
		rest="${line#"Files ${REPO_ROOT}/"}"
		echo "out of date:         ${rest%% and *}"
		;;
	"Only in ${REPO_ROOT}/"*)
		rest="${line#"Only in ${REPO_ROOT}/"}"
		echo "no longer generated: ${rest%%: *}/${rest#*: }"
		;;
	"Only in ${TMP}/"*)
		rest="${line#"Only in ${TMP}/"}"
		echo "missing:             ${rest%%: *}/${rest#*: }"
		;;
	*)
		echo "${line//${REPO_ROOT}\//}" | sed -e "s#${TMP}/##g"
		;;
	esac
}

stale=()
for path in "${GENERATED[@]}"; do
	while IFS= read -r line; do
		stale+=("$(describe "${line}")")
	done < <(diff -rq "${REPO_ROOT}/${path}" "${TMP}/${path}" 2>&1 || true)
done

if ((${#stale[@]} > 0)); then
	{
		echo "verify-codegen: generated files are stale:"
		printf '  %s\n' "${stale[@]}"
		echo
		echo "Diff (committed -> regenerated), first 200 lines:"
		for path in "${GENERATED[@]}"; do
			diff -ruN "${REPO_ROOT}/${path}" "${TMP}/${path}" || true
		done | sed -e "s#${TMP}/##g" -e "s#${REPO_ROOT}/##g" | head -n 200 || true
		echo
		echo "Run hack/update-codegen.sh (make generate) and commit the result."
	} >&2
	exit 1
fi

echo "verify-codegen: generated files are up to date"
