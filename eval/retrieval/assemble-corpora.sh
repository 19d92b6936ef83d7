#!/usr/bin/env bash
# Assembles the three corpora of the retrieval evaluation from documentation this machine
# already has, offline and deterministically (sorted lists, fixed locale and page width):
#   man/     reference pages: manual pages of common command-line tools, as plain text (<name>.txt)
#   guides/  prose guides in Markdown: the Fastify docs npm installs (<Guides|Reference>-<file>.md)
#   html/    HTML: the Node.js API documentation Debian ships (<name>.html)
# Idempotent: the three sub-folders are removed and written again on every run.
# Usage: bash eval/retrieval/assemble-corpora.sh OUT_DIR
set -euo pipefail

out=${1:?usage: bash eval/retrieval/assemble-corpora.sh OUT_DIR}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export LC_ALL=C.UTF-8

mkdir -p "$out"
rm -rf "$out/man" "$out/guides" "$out/html"
mkdir -p "$out/man" "$out/guides" "$out/html"

# --- man: one entry per page, `name` (section 1) or `name:section`. Sorted by name.
# A page this machine lacks is skipped with a warning; it never fails the script.
pages=(
  base64 bash bzip2 cat chmod chown column cp curl cut date dd df diff du env file find flock
  gawk git git-rebase git-stash gpg grep gzip head jq kill less ln ls lsof:8 make mkdir mktemp
  mv nice nohup openssl:1ssl openssl-req:1ssl openssl-x509:1ssl patch pg_dump pkill ps psql
  redis-cli rm rsync scp sed sha256sum sort split sqlite3 ss:8 ssh ssh-keygen stat strace tail
  tar tee timeout tmux top touch tr uniq unzip watch wc wget xargs xz zip zstd
)

if command -v col > /dev/null 2>&1; then
  strip_overstrike() { col -bx; }
else
  # Without col: drop "X<backspace>" overstrikes (bold, underline) left by the formatter.
  strip_overstrike() { sed -e 's/.\x08//g'; }
fi

written=0
for entry in "${pages[@]}"; do
  name=${entry%%:*}
  section=1
  [[ $entry == *:* ]] && section=${entry#*:}
  target="$out/man/$name.txt"
  if ! man -w "$section" "$name" > /dev/null 2>&1; then
    echo "warning: no manual page $name($section) on this machine; skipped" >&2
    continue
  fi
  MANWIDTH=100 MAN_KEEP_FORMATTING=0 man --no-hyphenation --no-justification -P cat "$section" "$name" 2> /dev/null \
    | strip_overstrike > "$target" || true
  if [[ ! -s $target ]]; then
    echo "warning: manual page $name($section) rendered empty; skipped" >&2
    rm -f "$target"
    continue
  fi
  written=$((written + 1))
done
echo "man: wrote $written of ${#pages[@]} pages" >&2

# --- guides: the Fastify documentation, flattened. Index.md in each folder is only a table of
# contents (links to the other files), so it is left out like the HTML aggregate pages.
fastify="$root/node_modules/fastify/docs"
if [[ -d $fastify ]]; then
  for dir in Guides Reference; do
    while IFS= read -r file; do
      base=$(basename "$file")
      [[ $base == Index.md ]] && continue
      cp "$file" "$out/guides/$dir-$base"
    done < <(find "$fastify/$dir" -maxdepth 1 -type f -name '*.md' | sort)
  done
else
  echo "warning: $fastify is missing (run npm install at the repository root): guides is empty" >&2
fi

# --- html: the Node.js API documentation (Debian's nodejs-doc), one page per module; the
# aggregate pages (all.html repeats every page, index.html is the table of contents) are left out.
nodedocs=/usr/share/doc/nodejs/api
if [[ -d $nodedocs ]]; then
  while IFS= read -r file; do
    base=$(basename "$file")
    case $base in all.html | index.html) continue ;; esac
    cp "$file" "$out/html/$base"
  done < <(find -L "$nodedocs" -maxdepth 1 -type f -name '*.html' | sort)
else
  echo "warning: $nodedocs is missing (Debian package nodejs-doc): html is empty" >&2
fi

for corpus in man guides html; do
  files=$(find "$out/$corpus" -type f | wc -l)
  words=0
  if [[ $files -gt 0 ]]; then
    words=$(find "$out/$corpus" -type f -print0 | sort -z | xargs -0 cat | wc -w)
  fi
  echo "$corpus: $files files, $words words"
done
