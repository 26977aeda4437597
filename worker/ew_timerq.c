/* ew_timerq: to be written */
typedef int ew_timerq_placeholder_t;
