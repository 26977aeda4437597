/* ew_sessions: to be written */
typedef int ew_sessions_placeholder_t;
