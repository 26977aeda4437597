/* ew_response: to be written */
typedef int ew_response_placeholder_t;
