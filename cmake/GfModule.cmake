# gf_add_module(<name> SOURCES <c files> [LIBS <targets>] [SHARED])
#
# A module folder modules/<name>/ holds l<name>.c (the binding, luaopen_gf_<name>_core or
# luaopen_gf_<name>) and pure C beneath it. Static modules are linked into the executable and
# registered in package.preload; SHARED modules (GDAL) become <libdir>/gfhost/gf/<name>/core.so,
# loaded on first require so that scripts which do not use them pay nothing at start-up.
set(GF_STATIC_MODULES "" CACHE INTERNAL "")
function(gf_add_module name)
  cmake_parse_arguments(M "SHARED" "OPEN" "SOURCES;LIBS" ${ARGN})
  if(NOT M_OPEN)
    set(M_OPEN "gf.${name}.core")
  endif()
  if(M_SHARED)
    add_library(gfmod_${name} MODULE ${M_SOURCES})
    set_target_properties(gfmod_${name} PROPERTIES PREFIX "" OUTPUT_NAME core
      LIBRARY_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/lib/gf/${name}")
    target_link_libraries(gfmod_${name} PRIVATE ${M_LIBS})
    target_include_directories(gfmod_${name} PRIVATE ${CMAKE_SOURCE_DIR}/host ${LUA_INCLUDE_DIRS})
    install(TARGETS gfmod_${name} LIBRARY DESTINATION ${GF_LIB_SUBDIR}/gf/${name})
  else()
    add_library(gfmod_${name} STATIC ${M_SOURCES})
    target_link_libraries(gfmod_${name} PUBLIC ${M_LIBS} PkgConfig::LUA)
    target_include_directories(gfmod_${name} PRIVATE ${CMAKE_SOURCE_DIR}/host)
    set(GF_STATIC_MODULES ${GF_STATIC_MODULES} "${M_OPEN}" CACHE INTERNAL "")
  endif()
  gf_warnings(gfmod_${name})
endfunction()
