#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and running thrum
# needs. Idempotent: when everything is present it only checks and exits.
# Run as root (or with sudo available).
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config
  # libraries and code generator
  thrift-compiler libthrift-dev libboost1.74-dev libssl-dev libevent-dev libsasl2-dev
  libspdlog-dev libcli11-dev libtomlplusplus-dev
  # the tile service: Mapnik, and what prepare-data.sh converts the data with
  libmapnik-dev mapnik-utils gdal-bin fonts-dejavu-core
  # SASL mechanisms (server and client plugins), saslpasswd2
  libsasl2-modules libsasl2-modules-gssapi-mit sasl2-bin
  # tests: third-party peers and a private Kerberos realm
  libgtest-dev libgmock-dev valgrind python3 python3-thrift python3-pure-sasl python3-kerberos
  krb5-kdc krb5-admin-server krb5-user openjdk-17-jdk-headless libthrift-java
  # packaging: cpack's dpkg-shlibdeps (dpkg-dev), and lintian to check the .debs
  dpkg-dev lintian
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
