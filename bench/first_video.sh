#!/usr/bin/env bash
# Time to a first MP4 by the README alone, from a fresh clone of REPO (default: this checkout): `make run`, then the
# printed curl session pasted as is. Usage: bench/first_video.sh [REPO]. Uses ports 8080 and 9101-9107.
set -u
REPO=${1:-$(git rev-parse --show-toplevel)}
rm -rf /tmp/fresh-readme && git clone -q "$REPO" /tmp/fresh-readme && cd /tmp/fresh-readme
start=$(date +%s.%N)
(make run > /tmp/fresh-readme-run.log 2>&1 &)
for i in $(seq 1 600); do grep -q "^export VG_KEY" /tmp/fresh-readme-run.log 2>/dev/null && break; sleep 0.5; done
banner=$(date +%s.%N)
# The session exactly as printed: from `export VG_KEY` to the `ls -l first-video.mp4` line.
sed -n '/^export VG_KEY/,/first-video.mp4/p' /tmp/fresh-readme-run.log > /tmp/session.sh
# the server may print its first log lines after the banner: wait until it answers
for i in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:8080/healthz && break; sleep 0.2; done
bash /tmp/session.sh
done_t=$(date +%s.%N)
file first-video.mp4
python3 -c "import sys; s,b,d=map(float,sys.argv[1:]); print(f'make run to banner: {b-s:.1f} s; banner to MP4: {d-b:.1f} s; total: {d-s:.1f} s')" $start $banner $done_t
pkill -f "video-gateway run --sandbox --config deploy/gateway.example.toml" ; pkill -f "/tmp/fresh-readme/.venv/bin/python -m sandbox"
