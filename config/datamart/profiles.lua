-- datamart_listener / datamart_gaps: which announcements matter and which files make a day
-- complete (source-systems §3.4). Pick one with --profile (or DATAMART_PROFILE).
--
-- A profile has `routing_keys` (bound on the xpublic exchange) and `groups`; each group expands
-- `path_template` for every iterator value into the expected relpath of one file (the path of
-- the announcement's URL). Placeholders: {datestr} (YYYYMMDD, the idempotency key),
-- {model_number}, {iterator}, {file} (file_template rendered). Iterators as in
-- config/grib/models.lua: integers -> 3 digits, strings as written, ranges {from, to[, step]}.
return {
  default = "current",
  profiles = {
    -- the download URLs grib_copy uses today (model_rdps, model_gdps)
    current = {
      routing_keys = {
        "v02.post.*.WXO-DD.model_rdps.10km.*.*.#",
        "v02.post.*.WXO-DD.model_gdps.15km.*.*.#",
      },
      groups = {
        { model = "rdps", code = "P", model_number = "06",
          path_template = "/{datestr}/WXO-DD/model_rdps/10km/{model_number}/{iterator}/{file}",
          file_template = "{datestr}T{model_number}Z_MSC_RDPS_PrecipRate_Sfc_RLatLon0.09_PT{iterator}H.grib2",
          iterator = { { 2, 83 } } },
        { model = "rdps", code = "T", model_number = "06",
          path_template = "/{datestr}/WXO-DD/model_rdps/10km/{model_number}/{iterator}/{file}",
          file_template = "{datestr}T{model_number}Z_MSC_RDPS_AirTemp_AGL-2m_RLatLon0.09_PT{iterator}H.grib2",
          iterator = { { 0, 83 } } },
        { model = "gdps", code = "P", model_number = "00",
          path_template = "/{datestr}/WXO-DD/model_gdps/15km/{model_number}/{iterator}/{file}",
          file_template = "{datestr}T{model_number}Z_MSC_GDPS_PrecipRate_Sfc_LatLon0.15_PT{iterator}H.grib2",
          iterator = { { 90, 240, 3 } } },
        { model = "gdps", code = "T", model_number = "00",
          path_template = "/{datestr}/WXO-DD/model_gdps/15km/{model_number}/{iterator}/{file}",
          file_template = "{datestr}T{model_number}Z_MSC_GDPS_AirTemp_AGL-2m_LatLon0.15_PT{iterator}H.grib2",
          iterator = { { 90, 240, 3 }, 6, 9, 12, 15 } },
      },
    },
    -- the 2023 datamart names (model_gem_regional / model_gem_global) of the captured
    -- announcements in ../shared/fixtures/datamart (2023-04-22..24): regional 06Z TMP 0..83 and
    -- PRATE 2..83, global 00Z TMP and PRATE 138..240 every 3 h: 236 files a day.
    ["2023"] = {
      routing_keys = {
        "v02.post.*.WXO-DD.model_gem_regional.10km.grib2.*.*.#",
        "v02.post.*.WXO-DD.model_gem_global.15km.grib2.lat_lon.*.*.#",
      },
      groups = {
        { model = "gem_regional", code = "P", model_number = "06",
          path_template = "/{datestr}/WXO-DD/model_gem_regional/10km/grib2/{model_number}/{iterator}/{file}",
          file_template = "CMC_reg_PRATE_SFC_0_ps10km_{datestr}{model_number}_P{iterator}.grib2",
          iterator = { { 2, 83 } } },
        { model = "gem_regional", code = "T", model_number = "06",
          path_template = "/{datestr}/WXO-DD/model_gem_regional/10km/grib2/{model_number}/{iterator}/{file}",
          file_template = "CMC_reg_TMP_TGL_2_ps10km_{datestr}{model_number}_P{iterator}.grib2",
          iterator = { { 0, 83 } } },
        { model = "gem_global", code = "P", model_number = "00",
          path_template = "/{datestr}/WXO-DD/model_gem_global/15km/grib2/lat_lon/{model_number}/{iterator}/{file}",
          file_template = "CMC_glb_PRATE_SFC_0_latlon.15x.15_{datestr}{model_number}_P{iterator}.grib2",
          iterator = { { 138, 240, 3 } } },
        { model = "gem_global", code = "T", model_number = "00",
          path_template = "/{datestr}/WXO-DD/model_gem_global/15km/grib2/lat_lon/{model_number}/{iterator}/{file}",
          file_template = "CMC_glb_TMP_TGL_2_latlon.15x.15_{datestr}{model_number}_P{iterator}.grib2",
          iterator = { { 138, 240, 3 } } },
      },
    },
  },
}
