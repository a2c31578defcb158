# Targets for operator/plot and operator/cli/forecast.* (defined here, with
# absolute paths, so they build without operator/CMakeLists.txt changes).
set(_sc_root ${CMAKE_CURRENT_LIST_DIR}/..)
add_library(shardcast_plot STATIC ${_sc_root}/operator/plot/svg_plot.cc)
target_link_libraries(shardcast_plot PUBLIC shardcast_util)
shardcast_warnings(shardcast_plot)

add_library(shardcast_forecast_cli STATIC ${_sc_root}/operator/cli/forecast.cc)
target_link_libraries(shardcast_forecast_cli PUBLIC shardcast_predictor shardcast_plot)
shardcast_warnings(shardcast_forecast_cli)

add_executable(shardcast-forecast ${_sc_root}/operator/cli/forecast_main.cc)
target_link_libraries(shardcast-forecast PRIVATE shardcast_forecast_cli)
shardcast_warnings(shardcast-forecast)
