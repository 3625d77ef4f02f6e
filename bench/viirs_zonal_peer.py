#!/usr/bin/env python3
"""The peer of bench/viirs_bench.sh: tif_stats' zonal statistics with rasterio + numpy (Debian
python3-rasterio), written as a careful Python port would: every .tif inside every .tgz is opened
once through GDAL's /vsitar/ (nothing extracted) and read per zone window; pixel centres inside
the polygon, nodata 0, population stddev, skew m3/m2^1.5; one CSV per zone, month, tile and
raster (<zone>_<YYYYMM>_<tile>.csv, coverage _cvg.csv), as gfhost writes them.

usage: viirs_zonal_peer.py ZONES_DIR OUT_DIR TGZ...
"""
import json, math, os, sys, tarfile

os.environ["CPL_VSIL_GZIP_WRITE_PROPERTIES"] = "NO"
import numpy as np
import rasterio
from rasterio import features, windows


# the zones and tif_stats' statistics, as the specs' independent check computes them
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "spec", "support"))
from viirs_expect import zones_of, stats as stats_of  # noqa: E402


def stats(v):
    s = stats_of(v)
    if s["count"] == 0:
        return ",,,,,0"
    return "%r,%r,%r,%r,%r,%d" % (s["min"], s["max"], s["mean"], s["stddev"], s["skew"], s["count"])


def main():
    zones, out = zones_of(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for tgz in sys.argv[3:]:
        base = os.path.basename(tgz)
        ym, tile = base[10:16], base[28:35]
        with tarfile.open(tgz) as t:
            members = [m.name for m in t.getmembers() if m.name.endswith(".tif")]
        for m in members:
            suffix = "_cvg" if "cf_cvg" in m else ""
            with rasterio.open("/vsitar/" + os.path.abspath(tgz) + "/" + m) as ds:
                t = ds.transform
                for name, g in zones:
                    minx, miny, maxx, maxy = features.bounds(g)
                    c0, c1 = sorted(((minx - t.c) / t.a, (maxx - t.c) / t.a))
                    r0, r1 = sorted(((maxy - t.f) / t.e, (miny - t.f) / t.e))
                    c0, r0 = max(0, math.floor(c0)), max(0, math.floor(r0))
                    c1, r1 = min(ds.width, math.ceil(c1)), min(ds.height, math.ceil(r1))
                    if c1 <= c0 or r1 <= r0:
                        row = ",,,,,0"
                    else:
                        win = windows.Window(c0, r0, c1 - c0, r1 - r0)
                        data = ds.read(1, window=win).astype(np.float64)
                        mask = features.geometry_mask([g], out_shape=data.shape,
                                                      transform=ds.window_transform(win), invert=True)
                        row = stats(data[mask])
                    with open(os.path.join(out, "%s_%s_%s%s.csv" % (name, ym, tile, suffix)), "w") as f:
                        f.write("min,max,mean,stddev,skew,count\n" + row + "\n")


main()
