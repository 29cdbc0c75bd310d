#!/usr/bin/env bash
# Checks C++ sources against .clang-format (Qt style). Exits non-zero listing the files that
# differ; `scripts/check-format.sh --fix` rewrites them in place instead.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

fix=0
[[ "${1:-}" == "--fix" ]] && fix=1

mapfile -t files < <(git ls-files --cached --others --exclude-standard -- \
    '*.h' '*.cpp' | grep -E '^(engine|ui|app|tests|examples|bench)/' || true)
if ((${#files[@]} == 0)); then
    echo "check-format: no C++ files found"
    exit 0
fi

if ((fix)); then
    clang-format -i --style=file "${files[@]}"
    echo "check-format: formatted ${#files[@]} files"
    exit 0
fi

bad=()
for f in "${files[@]}"; do
    clang-format --style=file --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
    printf 'check-format: not clang-formatted:\n'
    printf '  %s\n' "${bad[@]}"
    echo "check-format: run scripts/check-format.sh --fix"
    exit 1
fi
echo "check-format: ${#files[@]} files clean"
