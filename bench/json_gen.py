#!/usr/bin/env python3
"""Write a CMR umm_json-like search response of about SIZE_MB megabytes to OUT.

Items are the real granules of fixtures/cmr/uat_modis_t_page.json with fresh ids, revision
numbers, sizes and coordinates, so the document has CMR's shape, key set and value mix.
usage: json_gen.py FIXTURE OUT SIZE_MB
"""
import copy
import json
import random
import sys


def main():
    fixture, out, size_mb = sys.argv[1], sys.argv[2], float(sys.argv[3])
    with open(fixture) as f:
        page = json.load(f)
    templates = page["items"]
    rnd = random.Random(42)
    target = int(size_mb * 1024 * 1024)
    with open(out, "w") as f:
        f.write('{"hits":%d,"took":118,"items":[' % 10**6)
        written, i = 0, 0
        while written < target:
            item = copy.deepcopy(templates[i % len(templates)])
            meta, umm = item["meta"], item["umm"]
            meta["concept-id"] = "G%d-POCLOUD" % (1237730654 + i)
            meta["revision-id"] = rnd.randint(1, 40)
            ur = "%014d-JPL-L2P_GHRSST-SSTskin-MODIS_T-D-v02.0-fv01.0" % (20000227202006 + i)
            meta["native-id"] = ur
            umm["GranuleUR"] = ur
            for info in umm.get("DataGranule", {}).get("ArchiveAndDistributionInformation", []):
                info["Size"] = rnd.uniform(1, 40)
            geom = umm.get("SpatialExtent", {}).get("HorizontalSpatialDomain", {}).get("Geometry", {})
            for r in geom.get("BoundingRectangles", []):
                r["SouthBoundingCoordinate"] = round(rnd.uniform(-90, 0), 3)
                r["NorthBoundingCoordinate"] = round(rnd.uniform(0, 90), 3)
            s = json.dumps(item, separators=(",", ":"))
            if i:
                f.write(",")
            f.write(s)
            written += len(s) + 1
            i += 1
        f.write("]}\n")
    print("%s: %d items, %.1f MB" % (out, i, written / 1048576.0), file=sys.stderr)


if __name__ == "__main__":
    main()
