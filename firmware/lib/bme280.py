"""BME280 / BMP280 on I2C: forced-mode readings with the datasheet's integer compensation
(Bosch BME280 datasheet §4.2.3, BMP280 §3.11.3). A BMP280 answers too, without humidity."""

import struct
from time import sleep_ms

CHIP_BMP280 = 0x58
CHIP_BME280 = 0x60


class BME280:
    def __init__(self, i2c, addr=0x76):
        self.i2c = i2c
        self.addr = addr
        chip = i2c.readfrom_mem(addr, 0xD0, 1)[0]
        if chip not in (CHIP_BMP280, CHIP_BME280):
            raise OSError("chip id 0x%02x at 0x%02x is not a BME280/BMP280" % (chip, addr))
        self.humidity = chip == CHIP_BME280
        cal = i2c.readfrom_mem(addr, 0x88, 24)
        self.t_cal = struct.unpack("<Hhh", cal[:6])
        self.p_cal = struct.unpack("<Hhhhhhhhh", cal[6:24])
        self.h_cal = (0, 0, 0, 0, 0, 0)
        if self.humidity:
            h1 = i2c.readfrom_mem(addr, 0xA1, 1)[0]
            e = i2c.readfrom_mem(addr, 0xE1, 7)
            h2, h3, e4, e5, e6, h6 = struct.unpack("<hBbBbb", e)
            self.h_cal = (h1, h2, h3, (e4 << 4) | (e5 & 0x0F), (e6 << 4) | (e5 >> 4), h6)
            i2c.writeto_mem(addr, 0xF2, b"\x01")  # humidity oversampling x1

    def measure(self):
        """One forced measurement: (degC, Pa, %RH or None)."""
        self.i2c.writeto_mem(self.addr, 0xF4, b"\x25")  # temperature x1, pressure x1, forced
        sleep_ms(10)  # at most 9.3 ms with these settings (datasheet, appendix B)
        d = self.i2c.readfrom_mem(self.addr, 0xF7, 8)
        return self.compensate((d[3] << 12) | (d[4] << 4) | (d[5] >> 4),
                               (d[0] << 12) | (d[1] << 4) | (d[2] >> 4), (d[6] << 8) | d[7])

    def compensate(self, adc_t, adc_p, adc_h):
        t1, t2, t3 = self.t_cal
        v1 = (((adc_t >> 3) - (t1 << 1)) * t2) >> 11
        v2 = (((((adc_t >> 4) - t1) * ((adc_t >> 4) - t1)) >> 12) * t3) >> 14
        fine = v1 + v2
        temp = ((fine * 5 + 128) >> 8) / 100
        p1, p2, p3, p4, p5, p6, p7, p8, p9 = self.p_cal
        v1 = fine - 128000
        v2 = v1 * v1 * p6 + ((v1 * p5) << 17) + (p4 << 35)
        v1 = (((v1 * v1 * p3) >> 8) + ((v1 * p2) << 12))
        v1 = (((1 << 47) + v1) * p1) >> 33
        press = 0.0
        if v1:
            p = 1048576 - adc_p
            p = (((p << 31) - v2) * 3125) // v1
            v1 = (p9 * (p >> 13) * (p >> 13)) >> 25
            v2 = (p8 * p) >> 19
            press = (((p + v1 + v2) >> 8) + (p7 << 4)) / 256
        if not self.humidity:
            return temp, press, None
        h1, h2, h3, h4, h5, h6 = self.h_cal
        x = fine - 76800
        x = (((((adc_h << 14) - (h4 << 20) - (h5 * x)) + 16384) >> 15)
             * (((((((x * h6) >> 10) * (((x * h3) >> 11) + 32768)) >> 10) + 2097152) * h2 + 8192) >> 14))
        x = x - (((((x >> 15) * (x >> 15)) >> 7) * h1) >> 4)
        x = min(max(x, 0), 419430400)
        return temp, press, (x >> 12) / 1024
