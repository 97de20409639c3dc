#!/usr/bin/env bash
# Time to a first MP4 with the production settings pointed at the emulators (docs/getting-started.md, "Real-provider
# settings, emulated providers"), in the fresh clone bench/first_video.sh left in /tmp/fresh-readme. Ports 8091, 9201-9207.
set -u
cd /tmp/fresh-readme
V=.venv/bin
python3 - <<'PY'
import re
s=open('deploy/base/gateway.production.toml').read()
ports={'vidgen':9201,'videogen':9202,'videogenapi':9203,'nanogpt':9204,'veo':9205,'fal':9206,'openai':9207}
for slug,port in ports.items():
    s=re.sub(r'(\[providers\.%s\]\n(?:.*\n)*?base_url = )"[^"]*"' % re.escape(slug), r'\1"http://127.0.0.1:%d%s"' % (port, '/v1' if slug=='openai' else ''), s, count=1)
s=s.replace('host = "0.0.0.0"','host = "127.0.0.1"').replace('port = 8080','port = 8091')
s=s.replace('key_prefix = "vg:"','key_prefix = "rehearse:"')
open('/tmp/rehearse.toml','w').write(s)
PY
grep -n 'key_prefix' /tmp/rehearse.toml | head -2
export VIDGEN_API_KEY=k1 VIDEOGEN_API_KEY=k2 VIDEOGENAPI_API_KEY=k3 NANOGPT_API_KEY=k4 GEMINI_API_KEY=k5 FAL_KEY=k6 OPENAI_API_KEY=k7
export VIDEO_GATEWAY_REDIS_URL=redis://127.0.0.1:6379/9 VIDEO_GATEWAY_METRICS_TOKEN=mt VIDEO_GATEWAY_ADMIN_KEY=vgk_rehearse_$(date +%s)
start=$(date +%s.%N)
$V/python -m sandbox --time-scale 0.1 --serve vidgen=127.0.0.1:9201=VIDGEN_API_KEY --serve videogen=127.0.0.1:9202=VIDEOGEN_API_KEY \
  --serve videogenapi=127.0.0.1:9203=VIDEOGENAPI_API_KEY --serve nanogpt=127.0.0.1:9204=NANOGPT_API_KEY \
  --serve veo=127.0.0.1:9205=GEMINI_API_KEY --serve fal=127.0.0.1:9206=FAL_KEY --serve openai=127.0.0.1:9207=OPENAI_API_KEY > /tmp/rehearse-sandbox.log 2>&1 &
SBX=$!
for p in 9201 9202 9203 9204 9205 9206 9207; do for i in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.1; done; done
$V/video-gateway check --config /tmp/rehearse.toml | tail -3
$V/video-gateway run --config /tmp/rehearse.toml > /tmp/rehearse-run.log 2>&1 &
GW=$!
for i in $(seq 1 200); do curl -s -o /dev/null http://127.0.0.1:8091/healthz && break; sleep 0.1; done
K=$VIDEO_GATEWAY_ADMIN_KEY
ID=$(curl -s http://127.0.0.1:8091/v1/videos -H "Authorization: Bearer $K" -H 'Content-Type: application/json' -d '{"model": "scenex", "prompt": "a lighthouse at dawn"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
until curl -s http://127.0.0.1:8091/v1/videos/$ID -H "Authorization: Bearer $K" | grep -qE '"status":"(completed|failed)"'; do sleep 0.5; done
curl -sL -o /tmp/rehearse.mp4 http://127.0.0.1:8091/v1/videos/$ID/content -H "Authorization: Bearer $K"
done_t=$(date +%s.%N)
file /tmp/rehearse.mp4
python3 -c "import sys; s,d=map(float,sys.argv[1:]); print(f'emulators + check + run + first MP4: {d-s:.1f} s')" $start $done_t
kill $GW $SBX; wait 2>/dev/null
