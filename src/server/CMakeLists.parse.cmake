# TEMPORARY copy of the block for src/server/CMakeLists.txt (which uses plain file names), used
# only by a scratch build until the lead engineer adds it there; delete it then.
# The request parsers (api_parse.h): pure, no HTTP; fuzzed by fuzz/api_parse_fuzz.cc.
add_library(rigshift_api_parse ${CMAKE_CURRENT_LIST_DIR}/api_parse.cc)
target_link_libraries(rigshift_api_parse PUBLIC rigshift_model rigshift_common nlohmann_json::nlohmann_json)

rigshift_test(api_parse_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/api_parse_test.cc
  LIBS rigshift_api_parse)
