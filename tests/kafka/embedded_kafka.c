typedef int k_placeholder_t; int main(void) { return 1; }
