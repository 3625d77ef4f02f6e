-- grib_copy: what to download, where to put it, what to extract (source-systems §3.2, §3.3).
--
-- Placeholders: {base} (the model's base URL, or --base-url), {datestr} (the date in
-- date_format), {yyyy} and {mm} (of that date), {model_number}, {iterator}.
-- An iterator is a list of integers (rendered with 3 digits, e.g. 002), strings (as written)
-- and inclusive ranges {from, to[, step][, format = "%02d"]}. Groups run in the order written;
-- their extractions are appended to the summary files in that order (the original's
-- CoalateGribOutput: regional P, regional T, global P, global T).
return {
  timezone = "America/Vancouver", -- "today" for the default dates
  date_format = "%Y%m%d",
  points = "points.lua", -- relative to this file
  summary = {
    dir = "cmc_data/summary_V2024/{datestr}",
    ostore_dir = "cmc/summary_V2024/{datestr}",
    file = "{key}_V2024.txt", -- key: P1..P5, T1..T5
  },
  models = {
    rdps = {
      base = "https://hpfx.collab.science.gc.ca",
      dir = "cmc_data/gribs/{datestr}",
      ostore_dir = "cmc/gribs/{datestr}",
      extract = true,
      groups = {
        { name = "GribRegional_1", code = "P", model_number = "06",
          url_template = "{base}/{datestr}/WXO-DD/model_rdps/10km/{model_number}/{iterator}/",
          file_template = "{datestr}T{model_number}Z_MSC_RDPS_PrecipRate_Sfc_RLatLon0.09_PT{iterator}H.grib2",
          iterator = { { 2, 83 } } },
        { name = "GribRegional_2", code = "T", model_number = "06",
          url_template = "{base}/{datestr}/WXO-DD/model_rdps/10km/{model_number}/{iterator}/",
          file_template = "{datestr}T{model_number}Z_MSC_RDPS_AirTemp_AGL-2m_RLatLon0.09_PT{iterator}H.grib2",
          iterator = { { 0, 83 } } },
      },
    },
    gdps = {
      base = "https://hpfx.collab.science.gc.ca",
      dir = "cmc_data/gribs/{datestr}",
      ostore_dir = "cmc/gribs/{datestr}",
      extract = true,
      groups = {
        { name = "GribGlobal_1", code = "P", model_number = "00",
          url_template = "{base}/{datestr}/WXO-DD/model_gdps/15km/{model_number}/{iterator}/",
          file_template = "{datestr}T{model_number}Z_MSC_GDPS_PrecipRate_Sfc_LatLon0.15_PT{iterator}H.grib2",
          iterator = { { 90, 240, 3 } } },
        { name = "GribGlobal_2", code = "T", model_number = "00",
          url_template = "{base}/{datestr}/WXO-DD/model_gdps/15km/{model_number}/{iterator}/",
          file_template = "{datestr}T{model_number}Z_MSC_GDPS_AirTemp_AGL-2m_LatLon0.15_PT{iterator}H.grib2",
          iterator = { { 90, 240, 3 }, 6, 9, 12, 15 } },
      },
    },
    cansips = {
      -- monthly: 24 files for the month of the date; no extraction (as at the original's HEAD)
      base = "https://dd.meteo.gc.ca",
      dir = "raw_data",
      ostore_dir = "RFC_DATA/CANSIP",
      extract = false,
      groups = {
        { name = "CanSIPS_PrecipRate", code = "P", model_number = "",
          url_template = "{base}/today/model_cansips/100km/forecast/{yyyy}/{mm}/",
          file_template = "{yyyy}{mm}_MSC_CanSIPS_PrecipRate_Sfc_LatLon1.0_P{iterator}M.grib2",
          iterator = { { 0, 11, 1, format = "%02d" } } },
        { name = "CanSIPS_AirTemp", code = "T", model_number = "",
          url_template = "{base}/today/model_cansips/100km/forecast/{yyyy}/{mm}/",
          file_template = "{yyyy}{mm}_MSC_CanSIPS_AirTemp_AGL-2m_LatLon1.0_P{iterator}M.grib2",
          iterator = { { 0, 11, 1, format = "%02d" } } },
      },
    },
  },
}
