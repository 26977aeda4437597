typedef int sim_placeholder_t; int main(void) { return 1; }
