#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed: installs it with apt-get when
# missing and running as root, else stops with a clear message.
set -euo pipefail
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$chromium" ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "Chromium is missing at $chromium. Install Debian's 'chromium' package (sudo apt-get install chromium) or set CHROMIUM to its path." >&2
	exit 1
fi
echo "Installing Debian's chromium package (needed by the browser tests)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq chromium >&2
[ -x "$chromium" ] || { echo "apt-get did not install $chromium" >&2; exit 1; }
