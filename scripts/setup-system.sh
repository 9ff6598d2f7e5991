#!/usr/bin/env bash
# Installs the system libraries bcss links against, if any is missing.
#   libturbojpeg0-dev  libjpeg-turbo's TurboJPEG API: decodes server JPEGs to the exact pixels
#                      Pillow produced for the original dataset (see ARCHITECTURE.md)
#   libjpeg62-turbo-dev  libjpeg-turbo's libjpeg API: the same decoder row by row
#                      (jpeg_read_scanlines), so no worker holds a decoded ROI
#   libopenslide-dev   OpenSlide 3.4, the standard whole-slide reader (bcss extract)
#   libclang-dev       bindgen, used by openslide-sys at build time
#   pkg-config         finds both libraries
#   openssl            the TLS test runs a real `openssl s_server` with a private CA
#   libopenjp2-tools   `opj_compress`: bcss-testserver writes JPEG 2000 (Aperio 33005) test slides
#   chromium           headless Chromium: the test that opens `bcss report`'s page in a real browser
#                      (tests/it/report.rs, driven over the DevTools protocol; runs with --no-sandbox as root)
# Idempotent and quiet when everything is present. Needs root (or sudo) only when installing.
set -euo pipefail

need=()
for pkg in pkg-config libturbojpeg0-dev libjpeg62-turbo-dev libopenslide-dev libclang-dev openssl libopenjp2-tools chromium; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    need+=("$pkg")
  fi
done
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

echo "bcss: installing system packages: ${need[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
