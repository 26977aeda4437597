echo "not written"; exit 1
