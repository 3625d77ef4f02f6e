#!/usr/bin/env python3
"""Independent zonal statistics for the viirs specs and bench, with rasterio and numpy (Debian
python3-rasterio): for every raster inside every given .tgz and every zone GeoJSON file, the
statistics tif_stats wrote (nodata 0; population stddev; Fisher-Pearson skew m3/m2^1.5; pixel
centres inside the polygon), printed as JSON {"<tgz name>/<member>": {"<zone>": {min, max, mean,
stddev, skew, count}}}. Each raster is opened once and read per zone window.

usage: viirs_expect.py ZONES_DIR TGZ...
"""
import json, math, os, sys, tarfile
os.environ["CPL_VSIL_GZIP_WRITE_PROPERTIES"] = "NO"  # nothing written beside the served .tgz
import numpy as np
import rasterio
from rasterio import features, windows
from rasterio.warp import transform_geom


def zones_of(d):
    out = []
    for n in sorted(os.listdir(d)):
        if n.endswith(".geojson"):
            doc = json.load(open(os.path.join(d, n)))
            f = doc["features"][0] if doc.get("type") == "FeatureCollection" else doc
            out.append((n[: -len(".geojson")], f["geometry"]))
    return out


def stats(v):
    v = v[(v != 0) & ~np.isnan(v)]
    n = int(v.size)
    if n == 0:
        return {"count": 0}
    mean = float(v.mean())
    d = v - mean
    m2 = float((d * d).mean())
    m3 = float((d * d * d).mean())
    return {"min": float(v.min()), "max": float(v.max()), "mean": mean, "stddev": m2 ** 0.5,
            "skew": 0.0 if m2 == 0 else m3 / m2 ** 1.5, "count": n}


def zonal(path, zones):
    res = {}
    with rasterio.open(path) as ds:
        for name, geom in zones:
            g = transform_geom("EPSG:4326", ds.crs, geom) if ds.crs else geom
            minx, miny, maxx, maxy = features.bounds(g)
            t = ds.transform
            c0, c1 = sorted(((minx - t.c) / t.a, (maxx - t.c) / t.a))
            r0, r1 = sorted(((maxy - t.f) / t.e, (miny - t.f) / t.e))
            c0, r0 = max(0, math.floor(c0)), max(0, math.floor(r0))
            c1, r1 = min(ds.width, math.ceil(c1)), min(ds.height, math.ceil(r1))
            if c1 <= c0 or r1 <= r0:
                res[name] = {"count": 0}
                continue
            win = windows.Window(c0, r0, c1 - c0, r1 - r0)
            data = ds.read(1, window=win).astype(np.float64)
            mask = features.geometry_mask([g], out_shape=data.shape, transform=ds.window_transform(win),
                                          invert=True, all_touched=False)
            res[name] = stats(data[mask])
    return res


def main():
    zones = zones_of(sys.argv[1])
    out = {}
    for tgz in sys.argv[2:]:
        with tarfile.open(tgz) as t:
            members = [m.name for m in t.getmembers() if m.name.endswith(".tif")]
        for m in members:
            out[os.path.basename(tgz) + "/" + m] = zonal("/vsitar/" + os.path.abspath(tgz) + "/" + m, zones)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
