/* CRC-32 shared by every snapshot and saved-model format. */
#ifndef CR_CRC32_H
#define CR_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32 (IEEE 802.3, as zlib's crc32()): continue from crc (0 to start)
 * over buf[0..n). crc32("123456789") = 0xCBF43926. */
uint32_t cr__crc32(uint32_t crc, const void *buf, size_t n);

#endif
