#!/usr/bin/env bash
# The retrieval evaluation: assembles the corpora (assemble-corpora.sh), then runs
# `bastion eval retrieval` with every questions/<corpus>.tsv against its corpus and prints the
# table. Embedded PGlite in a throw-away DATA_DIR by default; with DATABASE_URL set, that
# PostgreSQL database (the corpora go into a temporary workspace, removed at the end).
# Deterministic: the same documents and questions give the same figures.
#   npm run eval:retrieval [-- --misses N]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d -t bastion-eval-retrieval-XXXXXX)
trap 'rm -rf "$work"' EXIT
bash "$root/eval/retrieval/assemble-corpora.sh" "$work/corpora"
args=()
for questions in "$root"/eval/retrieval/questions/*.tsv; do
  args+=(--corpus "$work/corpora/$(basename "$questions" .tsv)" --questions "$questions")
done
if [[ -z ${DATABASE_URL:-} ]]; then
  export DATA_DIR="$work/data"
  unset REDIS_URL
fi
cd "$root/server"
npx tsx src/entry.ts eval retrieval "${args[@]}" "$@"
