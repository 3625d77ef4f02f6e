# Warnings as errors, applied per target (vendored code gets none of this).
include(CheckCCompilerFlag)
set(GF_WARNING_FLAGS)
foreach(flag -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
             -Wformat=2 -Wpointer-arith -Wvla -Wno-unused-parameter -Wno-format-truncation)
  string(MAKE_C_IDENTIFIER "HAS${flag}" var)
  check_c_compiler_flag(${flag} ${var})
  if(${var})
    list(APPEND GF_WARNING_FLAGS ${flag})
  endif()
endforeach()

function(gf_warnings target)
  target_compile_options(${target} PRIVATE ${GF_WARNING_FLAGS})
endfunction()
