-- luacheck for every Lua file of the tree (.ci/run runs `luacheck .`).
std = "lua54"
max_line_length = false -- the C side has clang-format; Lua lines follow the code around them
codes = true
exclude_files = { ".emu/**", ".rmq/**", ".cache/**", "build*/**", "out/**" }
-- Unused arguments are part of callback signatures; underscore-prefixed locals are deliberate.
unused_args = false
unused_secondaries = false

-- Deliberate: dropping references so the collector can free memory (`x = nil`), empty branches
-- that document a skipped case, and specs that swap io.stdout/io.stderr or os.exit to capture.
ignore = { "21[123]/_.*", "311", "542", "241", "581" }
files["spec/**/*.lua"] = { std = "+busted", globals = { "io", "_" }, ignore = { "431", "211/guard" } }
files["modules/host/host.lua"] = { globals = { "os" } }
