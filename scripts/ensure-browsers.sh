#!/usr/bin/env bash
# Makes sure the browser engines named in $ENGINES (default: chromium
# firefox webkit) are installed, as internal/engine looks for them:
#   chromium  Debian's chromium           ($CHROMIUM, else /usr/bin/chromium)
#   firefox   Debian's firefox-esr        ($FIREFOX, else firefox-esr on PATH)
#   webkit    Debian's webkit2gtk-driver  (brings libwebkit2gtk-4.1-0 and its
#             MiniBrowser) and xvfb (Xvfb, for a display)
# Installs what is missing with apt-get when running as root, else stops
# with the command to run.
set -euo pipefail
engines=${ENGINES:-chromium firefox webkit}
engines=${engines//,/ }
check() {
	missing=()
	for e in $engines; do
		case $e in
		chromium)
			[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium) ;;
		firefox)
			if [ -n "${FIREFOX:-}" ]; then [ -x "$FIREFOX" ] || missing+=(firefox-esr)
			else command -v firefox-esr >/dev/null || command -v firefox >/dev/null || missing+=(firefox-esr); fi ;;
		webkit)
			if [ -n "${WEBKIT_MINIBROWSER:-}" ]; then [ -x "$WEBKIT_MINIBROWSER" ] || missing+=(webkit2gtk-driver)
			else compgen -G '/usr/lib/*-linux-gnu/webkit2gtk-4.[01]/MiniBrowser' >/dev/null || missing+=(webkit2gtk-driver); fi
			command -v Xvfb >/dev/null || missing+=(xvfb) ;;
		*)
			echo "ensure-browsers: unknown engine '$e' (want chromium, firefox, webkit)" >&2; exit 2 ;;
		esac
	done
}
check
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "Missing browser packages: ${missing[*]}. Install them (sudo apt-get install ${missing[*]}), set CHROMIUM, FIREFOX or WEBKIT_MINIBROWSER to other binaries, or choose engines with ENGINES=chromium,firefox,webkit." >&2
	exit 1
fi
echo "Installing Debian packages for the browser tests: ${missing[*]}..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "${missing[@]}" >&2 || { apt-get update -qq >&2 && apt-get install -y -qq "${missing[@]}" >&2; }
# Check again: a package that installed but left no executable is an error.
check
if [ ${#missing[@]} -ne 0 ]; then
	echo "apt-get ran, but these are still missing: ${missing[*]}" >&2
	exit 1
fi
