/* ew_event: to be written */
typedef int ew_event_placeholder_t;
