/* ew_config: to be written */
typedef int ew_config_placeholder_t;
