// The runtime-neutral tenant isolation cases, inside workerd (test/shared/tenancy.case.ts).
import { tenancyCases } from '../shared/tenancy.case.ts'

tenancyCases()
