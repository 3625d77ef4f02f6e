#!/bin/sh
# Fetch the real raster and GRIB test data from Debian packages into .cache/testdata (ignored by
# git). Idempotent: a package already extracted is skipped. Needs only `apt-get download` (no
# root, no installation) and `dpkg-deb -x`.
#
#   python-grib-doc  real GFS / CMC / RAP / ECMWF GRIB1 and GRIB2 files (examples/)
#   r-cran-terra     GeoTIFFs: elev.tif (Int16, WGS84), logo.tif, meuse.tif
#   r-cran-stars     GeoTIFFs: L7_ETMs.tif (6 bands, UTM), lc.tif (Albers), olinda_dem_utm25s.tif
#
# Prints the data directory on stdout.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
dest=${GF_TESTDATA:-$root/.cache/testdata}
mkdir -p "$dest/debs"
for pkg in python-grib-doc r-cran-terra r-cran-stars; do
  if [ -e "$dest/$pkg/.done" ]; then continue; fi
  ( cd "$dest/debs" && ls ${pkg}_*.deb >/dev/null 2>&1 || apt-get download "$pkg" >&2 )
  deb=$(ls "$dest/debs/${pkg}"_*.deb | head -n 1)
  rm -rf "$dest/$pkg"
  mkdir -p "$dest/$pkg"
  dpkg-deb -x "$deb" "$dest/$pkg"
  touch "$dest/$pkg/.done"
done
# Short names the specs use.
ln -sfn "$dest/python-grib-doc/usr/share/doc/python-grib-doc/examples" "$dest/grib"
ln -sfn "$dest/r-cran-terra/usr/lib/R/site-library/terra/ex" "$dest/terra"
ln -sfn "$dest/r-cran-stars/usr/lib/R/site-library/stars/tif" "$dest/stars"
echo "$dest"
