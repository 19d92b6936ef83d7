#!/usr/bin/env bash
# Assembles the retrieval evaluation's three corpora from documentation this machine already
# has (Debian's manual pages and Node.js API docs, the Fastify docs npm installs), so nothing
# written for Bastion is in them and nothing is downloaded:
#   man/      reference pages: manual pages of common command-line tools, as plain text
#   fastify/  prose guides and reference in Markdown
#   nodejs/   the Node.js API documentation in HTML
# Usage: bash bench/retrieval/assemble-corpora.sh OUT_DIR
set -euo pipefail
out=${1:?usage: assemble-corpora.sh OUT_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
rm -rf "$out/man" "$out/fastify" "$out/nodejs"
mkdir -p "$out/man" "$out/fastify" "$out/nodejs"

# Page, or page:section. Pages this machine lacks are skipped with a warning.
pages="awk bash cat chmod chown cp curl cut date df diff du env file find git grep gzip head kill less ln ls make mkdir mv nice ps psql redis-cli rm rsync scp sed sort split ssh ssh-keygen stat tail tar tee timeout top touch tr uniq unzip wc wget xargs zip openssl:1ssl nmap nginx:8 crontab:5 sshd_config:5 ssh_config:5"
for entry in $pages; do
  name=${entry%%:*}
  section=""
  [[ $entry == *:* ]] && section=${entry#*:}
  # shellcheck disable=SC2086
  if ! MANWIDTH=100 MAN_KEEP_FORMATTING=0 man --no-hyphenation --no-justification -P cat $section "$name" 2>/dev/null | col -bx > "$out/man/$name.txt" || [[ ! -s $out/man/$name.txt ]]; then
    echo "warning: no manual page for $entry; skipped" >&2
    rm -f "$out/man/$name.txt"
  fi
done

for dir in Guides Reference; do
  for file in "$root"/node_modules/fastify/docs/"$dir"/*.md; do
    [[ $(basename "$file") == Index.md ]] && continue
    cp "$file" "$out/fastify/$dir-$(basename "$file")"
  done
done

nodedocs=/usr/share/doc/nodejs/api
if [[ -d $nodedocs ]]; then
  for file in "$nodedocs"/*.html; do
    case $(basename "$file") in all.html | index.html | documentation.html) continue ;; esac
    cp "$file" "$out/nodejs/"
  done
else
  echo "warning: $nodedocs is missing (Debian's nodejs-doc): the nodejs corpus is empty" >&2
fi

for corpus in man fastify nodejs; do
  files=$(find "$out/$corpus" -type f | wc -l)
  echo "$corpus: $files documents, $(cat "$out/$corpus"/* 2>/dev/null | wc -c) bytes"
done
