#!/usr/bin/env bash
# Make sure the CJK font that certificate PDFs embed is installed (Debian's
# fonts-wqy-microhei). Without it the PDFs fall back to a CID font that is not embedded.
set -u
FONT=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
[ -f "$FONT" ] && exit 0
if command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q fonts-wqy-microhei >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q fonts-wqy-microhei >/dev/null; } \
    || true
fi
[ -f "$FONT" ] || echo "warning: $FONT is missing (apt-get install -y fonts-wqy-microhei);" \
  "certificate PDFs will not embed their CJK font" >&2
exit 0
