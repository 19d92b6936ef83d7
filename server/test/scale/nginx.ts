/**
 * nginx (Debian's package) in front of the API instances, configured as docs/deploy.md
 * recommends: round robin, keep-alive upstream connections, streams unbuffered, and
 * idempotent requests passed to the other instance when one is down or draining (a
 * refused connection, or its 503 while it stops).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from '../harness.js';
import { track } from '../faults/cluster.js';

export interface Proxy {
  url: string;
  stop(): Promise<void>;
}

export function nginxConfig(dir: string, port: number, upstreams: readonly string[]): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream bastion {
    # max_fails=0: a restarting instance is tried again at once; a refused try goes on to the other.
${upstreams.map((u) => `    server ${u} max_fails=0;`).join('\n')}
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 64m;
    location / {
      proxy_pass http://bastion;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      # GET/HEAD go to the other instance on a refused connection or a draining instance's 503;
      # nginx never re-sends a POST that reached an instance.
      proxy_next_upstream error timeout http_502 http_503;
      proxy_next_upstream_tries 2;
      # Answer streams (Server-Sent Events) pass through as they are written.
      proxy_buffering off;
      proxy_read_timeout 300s;
    }
  }
}
`;
}

export async function startNginx(port: number, upstreams: readonly string[]): Promise<Proxy> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bastion-nginx-'));
  await fs.chmod(dir, 0o777); // nginx's workers drop root
  const conf = path.join(dir, 'nginx.conf');
  await fs.writeFile(conf, nginxConfig(dir, port, upstreams));
  const test = spawnSync('nginx', ['-t', '-q', '-c', conf, '-p', dir], { encoding: 'utf8' });
  if (test.status !== 0) throw new Error(`nginx -t: ${test.stderr}`);
  const child: ChildProcess = track(spawn('nginx', ['-c', conf, '-p', dir], { stdio: 'ignore', detached: true }));
  const url = `http://127.0.0.1:${port}`;
  const up = await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.status === 200, 10_000, 50);
  if (!up) throw new Error(`nginx did not start: ${await fs.readFile(path.join(dir, 'error.log'), 'utf8').catch(() => '')}`);
  return {
    url,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGQUIT');
      await exited;
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
