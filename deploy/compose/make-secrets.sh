#!/usr/bin/env bash
# Writes the compose stack's secrets to deploy/secrets/ (once: existing files are kept):
# random PostgreSQL and Redis passwords, the URLs that carry them, a master key, and the
# SMTP URL from deploy/.env. Each file is mode 600 and owned by the user of the container
# that reads it (Bastion: uid 10001; PostgreSQL's image: 999; Redis's image: 999).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p secrets && chmod 700 secrets
[ -f .env ] && set -a && . ./.env && set +a

write() { # name owner value
  local file="secrets/$1"
  if [ -e "$file" ]; then echo "kept    $file"; return; fi
  (umask 077 && printf '%s\n' "$3" > "$file")
  chown "$2" "$file" 2>/dev/null || echo "note: could not chown $file to $2 (run as root, or with sudo)"
  echo "written $file"
}
random() { openssl rand -base64 32 | tr -d '/+=\n' | cut -c1-32; }

pg_password="$(cat secrets/postgres_password 2>/dev/null || random)"
redis_password="$(cat secrets/redis_password 2>/dev/null || random)"
write postgres_password 999:999 "$pg_password"
write redis_password 999:999 "$redis_password"
write database_url 10001:10001 "postgres://bastion:${pg_password}@postgres:5432/bastion"
write redis_url 10001:10001 "redis://:${redis_password}@redis:6379"
write master_keys 10001:10001 "*k1:$(openssl rand -base64 32)"
write smtp_url 10001:10001 "${SMTP_URL:?set SMTP_URL in deploy/.env}"
