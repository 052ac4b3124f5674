"""Board side of edgehook: the virtual board, flashing (esptool), deploy (mpremote) and images."""
