/*
 * The naming rule shared by rooms and nicks: 1..max characters of
 * [A-Za-z0-9_.-].
 */
#ifndef CHAT_NAME_H
#define CHAT_NAME_H

#include <stdbool.h>
#include <stddef.h>

#define NAME_ROOM_MAX 64
#define NAME_NICK_MAX 32

bool name_is_valid(const char *s, size_t max);

#endif
