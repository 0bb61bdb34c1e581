// kt/kt.h: the umbrella header of the public runtime API.
#ifndef KT_KT_H
#define KT_KT_H

#include <kt/actor.h>
#include <kt/err.h>
#include <kt/log.h>
#include <kt/msg.h>

#endif // KT_KT_H
