import { requireAuth } from '@gatehouse/auth/middleware' // check tokens in your own Hono app or Worker
import { createApp, buildVerifier } from '@gatehouse/auth' // the whole edge app: /verify, gateway
import { createGatehouseClient } from '@gatehouse/auth/client' // sign-in for single-page apps
