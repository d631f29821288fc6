# fathom_add_backend(NAME
#                    SOURCES src1.cpp ...
#                    [LIBS lib ...])
#
# Builds the backend plugin `libfathom-backend-<NAME>.so` as a CMake MODULE library in the
# folder next to the `fathom` executable, where the plugin host looks for it. Only the entry
# symbol is exported (hidden visibility), and undefined symbols are link errors, so a plugin
# that would fail at dlopen time fails at build time instead.
#
# The plugin needs nothing of Fathom but this folder: the C ABI header and the C++ helper in
# plugins/include, reached through the `fathom_plugin_sdk` target.
function(fathom_add_backend name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "fathom_add_backend(${name}): no SOURCES given")
  endif()
  set(target fathom-backend-${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    OUTPUT_NAME fathom-backend-${name}
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_libraries(${target} PRIVATE fathom_plugin_sdk ${ARG_LIBS})
  if(TARGET fathom_warnings)
    target_link_libraries(${target} PRIVATE fathom_warnings)
  endif()
  if(NOT FATHOM_SANITIZE)
    target_link_options(${target} PRIVATE -Wl,--no-undefined)
  endif()
endfunction()
