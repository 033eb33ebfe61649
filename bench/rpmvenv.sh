#!/usr/bin/env bash
# Build an RPM of a pyproject-based Python app with rpmvenv (kevinconway), offline.
#
#   rpmvenv.sh NAME VERSION SRC_DIR REQUIREMENTS WHEELHOUSE OUTDIR [RV_VENV]
#
# Used by bench/run.py to measure rpmvenv on the same inputs as venvrpm. Pins: the newest
# virtualenv breaks rpmvenv 2.1.1's relocation (venvctrl); setuptools < 81 keeps pkg_resources.
#
# NAME          RPM name; also the venv directory: $PREFIX/NAME (default /opt/NAME)
# VERSION       RPM version
# SRC_DIR       app source root (has pyproject.toml; installed with `pip install .`)
# REQUIREMENTS  pip-compile --generate-hashes lock (any path; made absolute)
# WHEELHOUSE    directory of wheels for the lock, plus the app's build backend
#               (e.g. setuptools) because `pip install .` uses build isolation
# OUTDIR        where the .rpm is moved to (created if missing)
#
# Prints the absolute path of the RPM on stdout (only line on stdout).
# Progress, the timing and the log path go to stderr.
#
# Environment knobs:
#   PYTHON=/usr/bin/python3.11        interpreter for the packaged venv (virtualenv --python)
#   PREFIX=/opt                       parent directory of the venv on the target
#   RELEASE=1                         RPM release
#   RV_VENV=/var/tmp/venvrpm-bench/rpmvenv   venv holding rpmvenv (created if missing;
#                                     that step needs PyPI, the build itself does not)
#   FIX_PATHS=0                       1 = add config-only workarounds (extra %install lines
#                                     through the `blocks` extension): recompile .pyc for the
#                                     final path, drop direct_url.json, no /usr/lib/.build-id links
#   OFFLINE=1                         1 = run rpmvenv inside `unshare -n` (no network at all)
#   KEEP_WORK=0                       1 = keep the work dir (spec, config, rpmbuild topdir)
set -euo pipefail

if [ "$#" -ne 6 ] && [ "$#" -ne 7 ]; then
    echo "usage: $0 NAME VERSION SRC_DIR REQUIREMENTS WHEELHOUSE OUTDIR [RV_VENV]" >&2
    exit 2
fi

NAME=$1
VERSION=$2
SRC_DIR=$(realpath -e "$3")
REQUIREMENTS=$(realpath -e "$4")
WHEELHOUSE=$(realpath -e "$5")
mkdir -p "$6"
OUTDIR=$(realpath -e "$6")

PYTHON=${PYTHON:-/usr/bin/python3.11}
PREFIX=${PREFIX:-/opt}
RELEASE=${RELEASE:-1}
RV_VENV=${7:-${RV_VENV:-/var/tmp/venvrpm-bench/rpmvenv}}
FIX_PATHS=${FIX_PATHS:-0}
OFFLINE=${OFFLINE:-1}
KEEP_WORK=${KEEP_WORK:-0}
LAB=$(dirname "$RV_VENV")

[ -f "$SRC_DIR/pyproject.toml" ] || [ -f "$SRC_DIR/setup.py" ] || {
    echo "error: $SRC_DIR has neither pyproject.toml nor setup.py" >&2; exit 2; }
command -v rpmbuild >/dev/null || { echo "error: rpmbuild not found" >&2; exit 2; }

# 1. rpmvenv in its own venv, with the versions that work together (see RECIPE.md).
if [ ! -x "$RV_VENV/bin/rpmvenv" ]; then
    echo "creating $RV_VENV (needs PyPI)" >&2
    /usr/bin/python3.11 -m venv "$RV_VENV"
    "$RV_VENV/bin/pip" install -q \
        rpmvenv==2.1.1 venvctrl==0.10.0 virtualenv==20.36.1 \
        confpy==0.11.0 semver==3.1.1 Jinja2==3.1.6 MarkupSafe==3.0.4 \
        distlib==0.4.4 filelock==3.32.7 platformdirs==4.14.7 'setuptools==66.1.1' >&2
fi

# 2. A private work dir; rpmvenv's rpmbuild %_topdir (tempfile.mkdtemp) lands in it via TMPDIR.
mkdir -p "$LAB/work"
WORK=$(mktemp -d "$LAB/work/$NAME-XXXXXX")
cleanup() { if [ "$KEEP_WORK" != 1 ] && [ "${ok:-0}" = 1 ]; then rm -rf "$WORK"; fi; }
trap cleanup EXIT
mkdir -p "$WORK/tmp" "$WORK/out"
CONFIG="$WORK/$NAME.json"
LOG="$WORK/rpmvenv.log"

# 3. The rpmvenv JSON config.
NAME="$NAME" VERSION="$VERSION" RELEASE="$RELEASE" PYTHON="$PYTHON" PREFIX="$PREFIX" \
REQUIREMENTS="$REQUIREMENTS" WHEELHOUSE="$WHEELHOUSE" FIX_PATHS="$FIX_PATHS" \
"$RV_VENV/bin/python" - > "$CONFIG" <<'PY'
import json, os
e = os.environ
install = []
if e["FIX_PATHS"] == "1":
    install = [
        # rpm macro, evaluated when the spec is parsed: no /usr/lib/.build-id/* in %files
        "%global _build_id_links none",
        # pip compiled .pyc in the buildroot (co_filename = build path): redo them for the final path
        "find %{venv_dir} -type d -name __pycache__ -prune -exec rm -rf {} +",
        "%{venv_python} -m compileall -q -f -j0 -d /%{venv_install_dir}/lib %{venv_dir}/lib >/dev/null",
        # the app's direct_url.json records file:///<topdir>/SOURCES/<src>
        "find %{venv_dir} -name direct_url.json -delete",
    ]
cfg = {
    "extensions": {"enabled": ["python_venv", "blocks"]},
    "core": {
        "name": e["NAME"],
        "version": e["VERSION"],
        "release": e["RELEASE"],
        "summary": e["NAME"] + " (virtualenv packaged by rpmvenv)",
        "license": "MIT",
        "group": "Applications/System",
        "requires": [e["PYTHON"]],
    },
    "python_venv": {
        "cmd": "virtualenv",
        "flags": ["--always-copy", "--no-periodic-update"],
        "python": e["PYTHON"],
        "name": e["NAME"],
        # no leading slash: rpmvenv joins "%{buildroot}/" and "/" + path itself,
        # "/opt" would give "#!//opt/NAME/bin/python" shebangs
        "path": e["PREFIX"].strip("/"),
        "requirements": [e["REQUIREMENTS"]],
        "pip_flags": ["--no-index", "--find-links", e["WHEELHOUSE"]],
        "use_pip_install": True,
    },
    "blocks": {
        "desc": [e["NAME"] + " in a virtualenv under " + e["PREFIX"].rstrip("/") + "/" + e["NAME"]],
        "install": install,
    },
}
json.dump(cfg, __import__("sys").stdout, indent=2)
PY

# 4. Environment: rpmvenv's %install calls `virtualenv` and `venvctrl-relocate` from PATH;
#    no pip config/env (this host's pip.conf adds --find-links /opt/wheels and extra indexes).
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_REQUIRE_HASHES PIP_NO_INDEX \
      PIP_CERT PIP_DEFAULT_TIMEOUT PIP_DISABLE_PIP_VERSION_CHECK PYTHONDONTWRITEBYTECODE \
      VIRTUAL_ENV PYTHONPATH PYTHONHOME
# rpmvenv (confpy) lets RPMVENV_<SECTION>_<OPTION> variables override the config: drop them
for v in $(compgen -e | grep '^RPMVENV_' || true); do unset "$v"; done
export PIP_CONFIG_FILE=/dev/null
export PIP_DISABLE_PIP_VERSION_CHECK=1
export VIRTUALENV_NO_PERIODIC_UPDATE=1
export PATH="$RV_VENV/bin:$PATH"
export TMPDIR="$WORK/tmp"

RUN=()
if [ "$OFFLINE" = 1 ]; then
    if unshare -n true 2>/dev/null; then RUN=(unshare -n); else
        echo "warning: unshare -n not permitted; building without network isolation" >&2; fi
fi

# 5. Build. rpmvenv runs `rpmbuild -ba --define='_topdir <mkdtemp>' <spec>` and moves the RPM.
echo "rpmvenv: config $CONFIG, log $LOG" >&2
start=$(date +%s.%N)
if ! "${RUN[@]}" "$RV_VENV/bin/rpmvenv" "$CONFIG" --source "$SRC_DIR" \
        --destination "$WORK/out" --verbose >"$LOG" 2>&1; then
    tail -n 40 "$LOG" >&2
    echo "error: rpmvenv failed; work dir kept: $WORK" >&2
    exit 1
fi
end=$(date +%s.%N)

shopt -s nullglob
rpms=("$WORK"/out/*.rpm)
[ "${#rpms[@]}" -eq 1 ] || { echo "error: expected one RPM in $WORK/out, got ${#rpms[@]}" >&2; exit 1; }
mv -f "${rpms[0]}" "$OUTDIR/"
cp "$LOG" "$OUTDIR/$(basename "${rpms[0]}" .rpm).rpmvenv.log"
ok=1
awk -v s="$start" -v e="$end" 'BEGIN { printf "rpmvenv wall time: %.1f s\n", e - s }' >&2
echo "$OUTDIR/$(basename "${rpms[0]}")"
