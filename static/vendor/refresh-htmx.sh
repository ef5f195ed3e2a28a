#!/usr/bin/env bash
# Re-vendor htmx from the npm package `htmx.org`.
#
# Usage: bash static/vendor/refresh-htmx.sh [VERSION]
#
# VERSION is any npm version spec (2.0.11, 2, latest, ...). It defaults to the
# version recorded in static/vendor/htmx/VERSION. The exact version fetched is
# written back to htmx/VERSION and to the table in static/vendor/README.md.
set -euo pipefail

vendor_dir="$(cd "$(dirname "$0")" && pwd)"
htmx_dir="$vendor_dir/htmx"
readme="$vendor_dir/README.md"

if [[ $# -gt 1 ]]; then
    echo "usage: $0 [VERSION]" >&2
    exit 2
fi

if [[ $# -eq 1 ]]; then
    spec="$1"
else
    spec="$(tr -d '[:space:]' < "$htmx_dir/VERSION")"
fi
if [[ -z "$spec" ]]; then
    echo "error: no version given and $htmx_dir/VERSION is empty" >&2
    exit 1
fi

for tool in npm node tar; do
    if ! command -v "$tool" > /dev/null; then
        echo "error: $tool is required" >&2
        exit 1
    fi
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "Fetching htmx.org@$spec ..."
(cd "$work" && npm pack --silent "htmx.org@$spec" > pack.out)
tarball="$work/$(tail -n 1 "$work/pack.out")"
tar -xzf "$tarball" -C "$work"

pkg="$work/package"
version="$(node -p "require(process.argv[1]).version" "$pkg/package.json")"
license="$(node -p "require(process.argv[1]).license" "$pkg/package.json")"

for f in dist/htmx.min.js LICENSE; do
    if [[ ! -f "$pkg/$f" ]]; then
        echo "error: htmx.org@$version has no $f" >&2
        exit 1
    fi
done

mkdir -p "$htmx_dir"
cp "$pkg/dist/htmx.min.js" "$htmx_dir/htmx.min.js"
cp "$pkg/LICENSE" "$htmx_dir/LICENSE"
echo "$version" > "$htmx_dir/VERSION"

# Rewrite the version and licence columns of the htmx.org row in the README table.
awk -v version="$version" -v license="$license" '
    BEGIN { FS = OFS = "|"; found = 0 }
    $2 == " `htmx.org` " { $3 = " " version " "; $4 = " " license " "; found = 1 }
    { print }
    END { if (!found) exit 1 }
' "$readme" > "$work/README.md" || {
    echo "error: no \`htmx.org\` row found in $readme" >&2
    exit 1
}
cp "$work/README.md" "$readme"

echo "htmx.org $version ($license) vendored into ${htmx_dir#"$PWD"/}"
