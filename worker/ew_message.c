/* ew_message: to be written */
typedef int ew_message_placeholder_t;
