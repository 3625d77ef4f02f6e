#!/usr/bin/env python3
"""Build VIIRS DNB-like monthly tiles from a real GeoTIFF, for the viirs specs and bench.

For every month and each of the six NOAA tile names, writes
  <root>/<path with {{pointInTime}} = month>/SVDNB_npp_<YYYYMM01>-<YYYYMMDD>_<tile>_vcmcfg_v10_c<stamp>.tgz
holding <granule>.avg_rade9h.tif (Float32 radiance) and <granule>.cf_cvg.tif (UInt16 cloud-free
coverage), both derived from the source raster (its nodata and negative values become 0, the
VIIRS no-data value), scaled differently per month and tile so every CSV differs. The source's
georeferencing is kept (the zones are placed over its extent); --scale N repeats each pixel NxN
(N times the size, same extent) for the benchmark.

--zones DIR writes zone GeoJSON files over the raster's extent: --nzones polygons inside it, one
MultiPolygon, and one zone outside it (count 0). Needs python3-gdal and numpy (Debian).
"""
import argparse, calendar, io, json, os, tarfile
import numpy as np
from osgeo import gdal

gdal.UseExceptions()
TILES = ["75N180W", "75N060W", "75N060E", "00N180W", "00N060W", "00N060E"]

ap = argparse.ArgumentParser()
ap.add_argument("--src", required=True)
ap.add_argument("--root", required=True)
ap.add_argument("--path", default="/v10/{{pointInTime}}/vcmcfg/")
ap.add_argument("--months", required=True, help="comma-separated YYYYMM")
ap.add_argument("--tiles", type=int, default=6)
ap.add_argument("--scale", type=int, default=1)
ap.add_argument("--zones")
ap.add_argument("--nzones", type=int, default=3)
a = ap.parse_args()

src = gdal.Open(a.src)
band = src.GetRasterBand(1)
arr = band.ReadAsArray().astype(np.float64)
nd = band.GetNoDataValue()
if nd is not None:
    arr[arr == nd] = 0
arr[arr < 0] = 0
gt = list(src.GetGeoTransform())
if a.scale > 1:
    arr = np.kron(arr, np.ones((a.scale, a.scale)))
    gt[1] /= a.scale
    gt[5] /= a.scale
h, w = arr.shape
srs = src.GetProjection()


def tif_bytes(data, dtype):
    path = "/vsimem/viirs_tile.tif"
    ds = gdal.GetDriverByName("GTiff").Create(path, w, h, 1, dtype)
    ds.SetGeoTransform(gt)
    ds.SetProjection(srs)
    ds.GetRasterBand(1).WriteArray(data)
    ds = None
    f = gdal.VSIFOpenL(path, "rb")
    gdal.VSIFSeekL(f, 0, 2)
    size = gdal.VSIFTellL(f)
    gdal.VSIFSeekL(f, 0, 0)
    b = gdal.VSIFReadL(1, size, f)
    gdal.VSIFCloseL(f)
    gdal.Unlink(path)
    return b


out = []
for mi, ym in enumerate(a.months.split(",")):
    y, m = int(ym[:4]), int(ym[4:])
    last = calendar.monthrange(y, m)[1]
    d = os.path.join(a.root, a.path.replace("{{pointInTime}}", ym).strip("/"))
    os.makedirs(d, exist_ok=True)
    for ti, tile in enumerate(TILES[: a.tiles]):
        granule = "SVDNB_npp_%04d%02d01-%04d%02d%02d_%s_vcmcfg_v10_c%04d%02d021200" % (
            y, m, y, m, last, tile, y + (m // 12), m % 12 + 1)
        rad = np.where(arr > 0, arr * (0.01 + 0.002 * mi) + 0.25 * ti, 0).astype(np.float32)
        cvg = np.where(arr > 0, (arr.astype(np.int64) + 7 * mi + ti) % 40, 0).astype(np.uint16)
        p = os.path.join(d, granule + ".tgz")
        with tarfile.open(p + ".tmp", "w:gz") as t:
            for suffix, data, dtype in ((".avg_rade9h.tif", rad, gdal.GDT_Float32),
                                        (".cf_cvg.tif", cvg, gdal.GDT_UInt16)):
                b = tif_bytes(data, dtype)
                info = tarfile.TarInfo(granule + suffix)
                info.size = len(b)
                t.addfile(info, io.BytesIO(b))
        os.rename(p + ".tmp", p)
        out.append(p)

if a.zones:
    os.makedirs(a.zones, exist_ok=True)
    x0, y0 = gt[0], gt[3]
    x1, y1 = x0 + gt[1] * w, y0 + gt[5] * h
    W, H = x1 - x0, y0 - y1

    def pt(fx, fy):
        return [round(x0 + W * fx, 7), round(y0 - H * fy, 7)]

    def write(name, geom):
        doc = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"site": name, "n": 1}, "geometry": geom}]}
        with open(os.path.join(a.zones, name + ".geojson"), "w") as f:
            json.dump(doc, f)

    n = a.nzones
    for i in range(n):
        # an irregular pentagon in cell i of a grid over the extent
        cols = int(np.ceil(np.sqrt(n)))
        cx, cy = (i % cols + 0.5) / cols, (i // cols + 0.5) / cols
        r = 0.42 / cols
        ring = [pt(cx - r, cy - r * 0.6), pt(cx + r * 0.8, cy - r), pt(cx + r, cy + r * 0.3),
                pt(cx + r * 0.1, cy + r), pt(cx - r * 0.9, cy + r * 0.7)]
        ring.append(ring[0])
        write("Zone_%02d" % (i + 1), {"type": "Polygon", "coordinates": [ring]})
    sq = lambda fx, fy, s: [[pt(fx, fy), pt(fx + s, fy), pt(fx + s, fy + s), pt(fx, fy + s), pt(fx, fy)]]
    write("Multi-Part_Zone", {"type": "MultiPolygon", "coordinates": [sq(0.05, 0.6, 0.1), sq(0.7, 0.1, 0.12)]})
    far = [[[x1 + 5, y0], [x1 + 6, y0], [x1 + 6, y0 - 1], [x1 + 5, y0], ]]
    write("Outside", {"type": "Polygon", "coordinates": far})

print(json.dumps({"tiles": out, "width": w, "height": h}))
