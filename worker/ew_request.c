/* ew_request: to be written */
typedef int ew_request_placeholder_t;
