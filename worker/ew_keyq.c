/* ew_keyq: to be written */
typedef int ew_keyq_placeholder_t;
