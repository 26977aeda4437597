/* ew_offsets: to be written */
typedef int ew_offsets_placeholder_t;
