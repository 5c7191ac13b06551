#!/bin/sh
# Makes the tray's three state icons from icons/128x128.png (ImageMagick 6's `convert`):
#   tray-idle.png       greyscale: nothing is active
#   tray-connected.png  the app icon: connections are active, none needs anything
#   tray-attention.png  the app icon with an amber "!" badge: a login or a failure waits
# 32x32 PNGs, committed; rerun after the app icon changes: sh scripts/tray-icons.sh
set -eu
cd "$(dirname "$0")/../icons"
CONVERT=${CONVERT:-/usr/bin/convert}
"$CONVERT" 128x128.png -colorspace Gray -colorspace sRGB -channel A -evaluate multiply 0.85 +channel \
  -resize 32x32 -strip PNG32:tray-idle.png
"$CONVERT" 128x128.png -resize 32x32 -strip PNG32:tray-connected.png
"$CONVERT" 128x128.png \
  -fill '#f59e0b' -stroke '#7c2d12' -strokewidth 5 -draw 'circle 92,92 92,124' \
  -stroke none -fill '#1f1300' -draw 'roundrectangle 87,72 97,100 3,3' -draw 'circle 92,110 92,116' \
  -resize 32x32 -strip PNG32:tray-attention.png
