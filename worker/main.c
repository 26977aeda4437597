#include "ew_version.h"
#include <stdio.h>
int main(void) { puts(EW_NAME " " EW_VERSION); return 0; }
