// The runtime-neutral tenant isolation cases, on Node (test/shared/tenancy.case.ts).
import { tenancyCases } from '../../shared/tenancy.case.ts'

tenancyCases()
