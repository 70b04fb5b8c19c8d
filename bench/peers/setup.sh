#!/usr/bin/env bash
# Create bench/peers/.venv and install the pinned peers. Idempotent: re-running
# is a no-op when the venv exists and requirements.txt has not changed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
req="$here/requirements.txt"
stamp="$venv/.requirements.sha256"
python="${PYTHON:-python3}"

if [[ ! -x "$venv/bin/python" ]]; then
    echo "setup: creating $venv" >&2
    "$python" -m venv "$venv"
fi
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "setup: $venv is up to date" >&2
    exit 0
fi
"$venv/bin/pip" install --disable-pip-version-check -q -r "$req"
# torchcfm, torchdyn and what torchdyn imports, bare: their other dependencies (pandas,
# torchvision, ...) are not used here.
"$venv/bin/pip" install --disable-pip-version-check -q --no-deps torchcfm==1.0.7 torchdyn==1.0.6 \
    torchcde==0.2.5 torchsde==0.2.6 trampoline==0.1.2
echo "$want" > "$stamp"
echo "setup: installed $(grep -cEv '^\s*(#|$)' "$req") pinned packages into $venv" >&2
