export type Json =
  | string
  | number
  | boolean
  | null
  | { [key: string]: Json | undefined }
  | Json[]

export type Database = {
  public: {
    Tables: {
      action_costs: {
        Row: {
          action: string
          active: boolean
          allowed_plans: string[] | null
          cost: number
          name_ar: string
          name_en: string
        }
        Insert: {
          action: string
          active?: boolean
          allowed_plans?: string[] | null
          cost: number
          name_ar: string
          name_en: string
        }
        Update: {
          action?: string
          active?: boolean
          allowed_plans?: string[] | null
          cost?: number
          name_ar?: string
          name_en?: string
        }
        Relationships: []
      }
      bookings: {
        Row: {
          created_at: string
          customer_name: string
          email: string | null
          id: string
          notes: string | null
          phone: string
          project_id: string
          service: string
          starts_at: string
          status: string
          updated_at: string
          visitor_key: string | null
        }
        Insert: {
          created_at?: string
          customer_name: string
          email?: string | null
          id?: string
          notes?: string | null
          phone: string
          project_id: string
          service: string
          starts_at: string
          status?: string
          updated_at?: string
          visitor_key?: string | null
        }
        Update: {
          created_at?: string
          customer_name?: string
          email?: string | null
          id?: string
          notes?: string | null
          phone?: string
          project_id?: string
          service?: string
          starts_at?: string
          status?: string
          updated_at?: string
          visitor_key?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "bookings_project_id_fkey"
            columns: ["project_id"]
            isOneToOne: false
            referencedRelation: "projects"
            referencedColumns: ["id"]
          },
        ]
      }
      contact_messages: {
        Row: {
          created_at: string
          email: string | null
          id: string
          message: string
          name: string
          phone: string | null
          project_id: string
          status: string
          subject: string | null
          updated_at: string
          visitor_key: string | null
        }
        Insert: {
          created_at?: string
          email?: string | null
          id?: string
          message: string
          name: string
          phone?: string | null
          project_id: string
          status?: string
          subject?: string | null
          updated_at?: string
          visitor_key?: string | null
        }
        Update: {
          created_at?: string
          email?: string | null
          id?: string
          message?: string
          name?: string
          phone?: string | null
          project_id?: string
          status?: string
          subject?: string | null
          updated_at?: string
          visitor_key?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "contact_messages_project_id_fkey"
            columns: ["project_id"]
            isOneToOne: false
            referencedRelation: "projects"
            referencedColumns: ["id"]
          },
        ]
      }
      credit_packs: {
        Row: {
          active: boolean
          code: string
          credits: number
          name_ar: string
          name_en: string
          price_kwd: number
          sort_order: number
          validity: string
        }
        Insert: {
          active?: boolean
          code: string
          credits: number
          name_ar: string
          name_en: string
          price_kwd: number
          sort_order?: number
          validity: string
        }
        Update: {
          active?: boolean
          code?: string
          credits?: number
          name_ar?: string
          name_en?: string
          price_kwd?: number
          sort_order?: number
          validity?: string
        }
        Relationships: []
      }
      credit_transactions: {
        Row: {
          action: string | null
          balance_after: number
          created_at: string
          credits_amount: number
          description: string | null
          description_ar: string | null
          grant_id: string | null
          hold_id: string | null
          id: string
          idempotency_key: string | null
          metadata: NonNullable<Json>
          refund_of: string | null
          request_fingerprint: string | null
          seq: number
          transaction_type: string
          user_id: string
        }
        Insert: {
          action?: string | null
          balance_after: number
          created_at?: string
          credits_amount: number
          description?: string | null
          description_ar?: string | null
          grant_id?: string | null
          hold_id?: string | null
          id?: string
          idempotency_key?: string | null
          metadata?: NonNullable<Json>
          refund_of?: string | null
          request_fingerprint?: string | null
          seq?: never
          transaction_type: string
          user_id: string
        }
        Update: {
          action?: string | null
          balance_after?: number
          created_at?: string
          credits_amount?: number
          description?: string | null
          description_ar?: string | null
          grant_id?: string | null
          hold_id?: string | null
          id?: string
          idempotency_key?: string | null
          metadata?: NonNullable<Json>
          refund_of?: string | null
          request_fingerprint?: string | null
          seq?: never
          transaction_type?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "credit_transactions_refund_of_fkey"
            columns: ["refund_of"]
            isOneToOne: false
            referencedRelation: "credit_transactions"
            referencedColumns: ["id"]
          },
        ]
      }
      deployments: {
        Row: {
          created_at: string
          error_message: string | null
          id: string
          project_id: string
          provider: string
          provider_deployment_id: string | null
          provider_project_id: string | null
          status: string
          updated_at: string
          url: string | null
        }
        Insert: {
          created_at?: string
          error_message?: string | null
          id?: string
          project_id: string
          provider: string
          provider_deployment_id?: string | null
          provider_project_id?: string | null
          status?: string
          updated_at?: string
          url?: string | null
        }
        Update: {
          created_at?: string
          error_message?: string | null
          id?: string
          project_id?: string
          provider?: string
          provider_deployment_id?: string | null
          provider_project_id?: string | null
          status?: string
          updated_at?: string
          url?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "deployments_project_id_fkey"
            columns: ["project_id"]
            isOneToOne: false
            referencedRelation: "projects"
            referencedColumns: ["id"]
          },
        ]
      }
      domain_contacts: {
        Row: {
          address1: string
          address2: string | null
          city: string
          country: string
          email: string
          first_name: string
          last_name: string
          organization: string | null
          phone: string
          postal_code: string
          state_province: string
          updated_at: string
          user_id: string
        }
        Insert: {
          address1: string
          address2?: string | null
          city: string
          country: string
          email: string
          first_name: string
          last_name: string
          organization?: string | null
          phone: string
          postal_code: string
          state_province: string
          updated_at?: string
          user_id: string
        }
        Update: {
          address1?: string
          address2?: string | null
          city?: string
          country?: string
          email?: string
          first_name?: string
          last_name?: string
          organization?: string | null
          phone?: string
          postal_code?: string
          state_province?: string
          updated_at?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "domain_contacts_user_id_fkey"
            columns: ["user_id"]
            isOneToOne: true
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
        ]
      }
      domain_orders: {
        Row: {
          action: string
          attempts: number
          charged_usd: number | null
          created_at: string
          error_code: string | null
          expires_before: string | null
          fqdn: string
          id: string
          last_error: string | null
          lease_owner: string | null
          lease_until: string | null
          next_attempt_at: string | null
          payment_id: string
          project_id: string
          quote_id: string
          registered_at: string | null
          registrar_domain_id: string | null
          registrar_order_id: string | null
          state: string
          updated_at: string
          user_id: string
          years: number
        }
        Insert: {
          action?: string
          attempts?: number
          charged_usd?: number | null
          created_at?: string
          error_code?: string | null
          expires_before?: string | null
          fqdn: string
          id?: string
          last_error?: string | null
          lease_owner?: string | null
          lease_until?: string | null
          next_attempt_at?: string | null
          payment_id: string
          project_id: string
          quote_id: string
          registered_at?: string | null
          registrar_domain_id?: string | null
          registrar_order_id?: string | null
          state?: string
          updated_at?: string
          user_id: string
          years: number
        }
        Update: {
          action?: string
          attempts?: number
          charged_usd?: number | null
          created_at?: string
          error_code?: string | null
          expires_before?: string | null
          fqdn?: string
          id?: string
          last_error?: string | null
          lease_owner?: string | null
          lease_until?: string | null
          next_attempt_at?: string | null
          payment_id?: string
          project_id?: string
          quote_id?: string
          registered_at?: string | null
          registrar_domain_id?: string | null
          registrar_order_id?: string | null
          state?: string
          updated_at?: string
          user_id?: string
          years?: number
        }
        Relationships: [
          {
            foreignKeyName: "domain_orders_payment_id_fkey"
            columns: ["payment_id"]
            isOneToOne: true
            referencedRelation: "payments"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "domain_orders_project_id_fkey"
            columns: ["project_id"]
            isOneToOne: false
            referencedRelation: "projects"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "domain_orders_quote_id_fkey"
            columns: ["quote_id"]
            isOneToOne: false
            referencedRelation: "domain_quotes"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "domain_orders_user_id_fkey"
            columns: ["user_id"]
            isOneToOne: false
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
        ]
      }
      domain_quotes: {
        Row: {
          created_at: string
          expires_at: string
          fqdn: string
          fqdn_unicode: string
          id: string
          margin: number
          premium: boolean
          price_kwd: number
          project_id: string
          usd_kwd_rate: number
          usd_price: number
          user_id: string
          years: number
        }
        Insert: {
          created_at?: string
          expires_at: string
          fqdn: string
          fqdn_unicode: string
          id?: string
          margin: number
          premium: boolean
          price_kwd: number
          project_id: string
          usd_kwd_rate: number
          usd_price: number
          user_id: string
          years: number
        }
        Update: {
          created_at?: string
          expires_at?: string
          fqdn?: string
          fqdn_unicode?: string
          id?: string
          margin?: number
          premium?: boolean
          price_kwd?: number
          project_id?: string
          usd_kwd_rate?: number
          usd_price?: number
          user_id?: string
          years?: number
        }
        Relationships: [
          {
            foreignKeyName: "domain_quotes_project_id_fkey"
            columns: ["project_id"]
            isOneToOne: false
            referencedRelation: "projects"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "domain_quotes_user_id_fkey"
            columns: ["user_id"]
            isOneToOne: false
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
        ]
      }
      domains: {
        Row: {
          check_attempts: number
          created_at: string
          error_code: string | null
          fqdn: string
          fqdn_unicode: string | null
          id: string
          lapsed: boolean
          last_error: string | null
          lease_until: string | null
          next_check_at: string | null
          order_id: string | null
          origin: string
          project_id: string
          registrar: string | null
          registrar_domain_id: string | null
          registration_expires_at: string | null
          renewal_due: boolean
          status: string
          step: string
          step_message_ar: string | null
          updated_at: string
          verification_records: NonNullable<Json>
          verified_at: string | null
          verify_deadline: string | null
        }
        Insert: {
          check_attempts?: number
          created_at?: string
          error_code?: string | null
          fqdn: string
          fqdn_unicode?: string | null
          id?: string
          lapsed?: boolean
          last_error?: string | null
          lease_until?: string | null
          next_check_at?: string | null
          order_id?: string | null
          origin?: string
          project_id: string
          registrar?: string | null
          registrar_domain_id?: string | null
          registration_expires_at?: string | null
          renewal_due?: boolean
          status?: string
          step?: string
          step_message_ar?: string | null
          updated_at?: string
          verification_records?: NonNullable<Json>
          verified_at?: string | null
          verify_deadline?: string | null
        }
        Update: {
          check_attempts?: number
          created_at?: string
          error_code?: string | null
          fqdn?: string
          fqdn_unicode?: string | null
          id?: string
          lapsed?: boolean
          last_error?: string | null
          lease_until?: string | null
          next_check_at?: string | null
          order_id?: string | null
          origin?: string
          project_id?: string
          registrar?: string | null
          registrar_domain_id?: string | null
          registration_expires_at?: string | null
          renewal_due?: boolean
          status?: string
          step?: string
          step_message_ar?: string | null
          updated_at?: string
          verification_records?: NonNullable<Json>
          verified_at?: string | null
          verify_deadline?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "domains_order_id_fkey"
            columns: ["order_id"]
            isOneToOne: true
            referencedRelation: "domain_orders"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "domains_project_id_fkey"
            columns: ["project_id"]
            isOneToOne: false
            referencedRelation: "projects"
            referencedColumns: ["id"]
          },
        ]
      }
      error_codes: {
        Row: {
          code: string
          http_status: number
          message_ar: string
          message_en: string
        }
        Insert: {
          code: string
          http_status: number
          message_ar: string
          message_en: string
        }
        Update: {
          code?: string
          http_status?: number
          message_ar?: string
          message_en?: string
        }
        Relationships: []
      }
      payments: {
        Row: {
          amount_kwd: number
          captured_amount_kwd: number | null
          captured_currency: string | null
          charge_started_at: string | null
          checked_at: string | null
          checked_result: string | null
          closed_at: string | null
          created_at: string
          credit_pack: string | null
          credits_granted: number | null
          currency: string
          fulfilment: string | null
          id: string
          idempotency_key: string
          kind: string
          last_error: string | null
          order_id: string
          paid_at: string | null
          payment_method: string | null
          payment_url: string | null
          period_end: string | null
          period_start: string | null
          plan: string | null
          proration: Json | null
          provider_payment_id: string | null
          purpose: string
          request_fingerprint: string
          status: string
          status_reason: string | null
          track_id: string | null
          updated_at: string
          user_id: string
        }
        Insert: {
          amount_kwd: number
          captured_amount_kwd?: number | null
          captured_currency?: string | null
          charge_started_at?: string | null
          checked_at?: string | null
          checked_result?: string | null
          closed_at?: string | null
          created_at?: string
          credit_pack?: string | null
          credits_granted?: number | null
          currency?: string
          fulfilment?: string | null
          id?: string
          idempotency_key: string
          kind: string
          last_error?: string | null
          order_id: string
          paid_at?: string | null
          payment_method?: string | null
          payment_url?: string | null
          period_end?: string | null
          period_start?: string | null
          plan?: string | null
          proration?: Json | null
          provider_payment_id?: string | null
          purpose?: string
          request_fingerprint: string
          status?: string
          status_reason?: string | null
          track_id?: string | null
          updated_at?: string
          user_id: string
        }
        Update: {
          amount_kwd?: number
          captured_amount_kwd?: number | null
          captured_currency?: string | null
          charge_started_at?: string | null
          checked_at?: string | null
          checked_result?: string | null
          closed_at?: string | null
          created_at?: string
          credit_pack?: string | null
          credits_granted?: number | null
          currency?: string
          fulfilment?: string | null
          id?: string
          idempotency_key?: string
          kind?: string
          last_error?: string | null
          order_id?: string
          paid_at?: string | null
          payment_method?: string | null
          payment_url?: string | null
          period_end?: string | null
          period_start?: string | null
          plan?: string | null
          proration?: Json | null
          provider_payment_id?: string | null
          purpose?: string
          request_fingerprint?: string
          status?: string
          status_reason?: string | null
          track_id?: string | null
          updated_at?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "payments_credit_pack_fkey"
            columns: ["credit_pack"]
            isOneToOne: false
            referencedRelation: "credit_packs"
            referencedColumns: ["code"]
          },
          {
            foreignKeyName: "payments_plan_fkey"
            columns: ["plan"]
            isOneToOne: false
            referencedRelation: "plans"
            referencedColumns: ["code"]
          },
          {
            foreignKeyName: "payments_user_id_fkey"
            columns: ["user_id"]
            isOneToOne: false
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
        ]
      }
      plans: {
        Row: {
          active: boolean
          billing_period: string
          code: string
          daily_bonus: number
          max_projects: number
          monthly_credits: number
          name_ar: string
          name_en: string
          price_kwd: number
          rollover_periods: number
          sort_order: number
        }
        Insert: {
          active?: boolean
          billing_period?: string
          code: string
          daily_bonus: number
          max_projects: number
          monthly_credits: number
          name_ar: string
          name_en: string
          price_kwd: number
          rollover_periods?: number
          sort_order?: number
        }
        Update: {
          active?: boolean
          billing_period?: string
          code?: string
          daily_bonus?: number
          max_projects?: number
          monthly_credits?: number
          name_ar?: string
          name_en?: string
          price_kwd?: number
          rollover_periods?: number
          sort_order?: number
        }
        Relationships: []
      }
      projects: {
        Row: {
          anon_bookings_per_hour: number | null
          anon_messages_per_hour: number | null
          created_at: string
          id: string
          name: string
          settings: NonNullable<Json>
          slug: string
          status: string
          subdomain: string
          template: string | null
          updated_at: string
          user_id: string
        }
        Insert: {
          anon_bookings_per_hour?: number | null
          anon_messages_per_hour?: number | null
          created_at?: string
          id?: string
          name: string
          settings?: NonNullable<Json>
          slug: string
          status?: string
          subdomain: string
          template?: string | null
          updated_at?: string
          user_id?: string
        }
        Update: {
          anon_bookings_per_hour?: number | null
          anon_messages_per_hour?: number | null
          created_at?: string
          id?: string
          name?: string
          settings?: NonNullable<Json>
          slug?: string
          status?: string
          subdomain?: string
          template?: string | null
          updated_at?: string
          user_id?: string
        }
        Relationships: []
      }
      subscriptions: {
        Row: {
          cancel_at_period_end: boolean
          created_at: string
          current_period_end: string
          current_period_start: string
          ended_at: string | null
          id: string
          last_payment_id: string | null
          plan: string
          scheduled_plan: string | null
          status: string
          updated_at: string
          user_id: string
        }
        Insert: {
          cancel_at_period_end?: boolean
          created_at?: string
          current_period_end: string
          current_period_start: string
          ended_at?: string | null
          id?: string
          last_payment_id?: string | null
          plan: string
          scheduled_plan?: string | null
          status: string
          updated_at?: string
          user_id: string
        }
        Update: {
          cancel_at_period_end?: boolean
          created_at?: string
          current_period_end?: string
          current_period_start?: string
          ended_at?: string | null
          id?: string
          last_payment_id?: string | null
          plan?: string
          scheduled_plan?: string | null
          status?: string
          updated_at?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "subscriptions_last_payment_id_fkey"
            columns: ["last_payment_id"]
            isOneToOne: false
            referencedRelation: "payments"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "subscriptions_plan_fkey"
            columns: ["plan"]
            isOneToOne: false
            referencedRelation: "plans"
            referencedColumns: ["code"]
          },
          {
            foreignKeyName: "subscriptions_scheduled_plan_fkey"
            columns: ["scheduled_plan"]
            isOneToOne: false
            referencedRelation: "plans"
            referencedColumns: ["code"]
          },
          {
            foreignKeyName: "subscriptions_user_id_fkey"
            columns: ["user_id"]
            isOneToOne: true
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
        ]
      }
      users: {
        Row: {
          created_at: string
          credits_balance: number
          credits_next_event_at: string | null
          daily_bonus_day: string | null
          email: string | null
          id: string
          plan: string | null
          plan_period_end: string | null
          plan_period_start: string | null
          updated_at: string
        }
        Insert: {
          created_at?: string
          credits_balance?: number
          credits_next_event_at?: string | null
          daily_bonus_day?: string | null
          email?: string | null
          id: string
          plan?: string | null
          plan_period_end?: string | null
          plan_period_start?: string | null
          updated_at?: string
        }
        Update: {
          created_at?: string
          credits_balance?: number
          credits_next_event_at?: string | null
          daily_bonus_day?: string | null
          email?: string | null
          id?: string
          plan?: string | null
          plan_period_end?: string | null
          plan_period_start?: string | null
          updated_at?: string
        }
        Relationships: [
          {
            foreignKeyName: "users_plan_fkey"
            columns: ["plan"]
            isOneToOne: false
            referencedRelation: "plans"
            referencedColumns: ["code"]
          },
        ]
      }
    }
    Views: {
      [_ in never]: never
    }
    Functions: {
      attach_checkout_charge: {
        Args: { order_id: string; payment_url: string; track_id: string }
        Returns: Database["public"]["CompositeTypes"]["payment_result"]
        SetofOptions: {
          from: "*"
          to: "payment_result"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      begin_refund: {
        Args: { refund_id: string; refund_order_id: string }
        Returns: boolean
      }
      capture_hold: {
        Args: { amount?: number; hold_id: string; user_id: string }
        Returns: Database["public"]["CompositeTypes"]["credit_capture"]
        SetofOptions: {
          from: "*"
          to: "credit_capture"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      confirm_payment: {
        Args: {
          amount_kwd: number
          currency?: string
          order_id: string
          provider_payment_id: string
          track_id: string
        }
        Returns: Database["public"]["CompositeTypes"]["payment_result"]
        SetofOptions: {
          from: "*"
          to: "payment_result"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      create_checkout: {
        Args: {
          idempotency_key: string
          payment_method: string
          plan: string
          user_id: string
        }
        Returns: Database["public"]["CompositeTypes"]["payment_result"]
        SetofOptions: {
          from: "*"
          to: "payment_result"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      create_pack_checkout: {
        Args: {
          credit_pack: string
          idempotency_key: string
          payment_method: string
          user_id: string
        }
        Returns: Database["public"]["CompositeTypes"]["payment_result"]
        SetofOptions: {
          from: "*"
          to: "payment_result"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      deduct_credits: {
        Args: {
          amount: number
          description: string
          idempotency_key: string
          user_id: string
        }
        Returns: Database["public"]["CompositeTypes"]["credit_spend"]
        SetofOptions: {
          from: "*"
          to: "credit_spend"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      extend_hold: {
        Args: { hold_id: string; user_id: string }
        Returns: Database["public"]["CompositeTypes"]["hold_extension"]
        SetofOptions: {
          from: "*"
          to: "hold_extension"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      finish_refund: {
        Args: {
          error: string
          outcome: string
          provider: Json
          refund_id: string
        }
        Returns: Database["public"]["CompositeTypes"]["refund_result"]
        SetofOptions: {
          from: "*"
          to: "refund_result"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      finish_storage_cleanup: {
        Args: { error?: string; project_id: string }
        Returns: Database["public"]["CompositeTypes"]["storage_cleanup_result"]
        SetofOptions: {
          from: "*"
          to: "storage_cleanup_result"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      get_credit_summary: {
        Args: Record<PropertyKey, never>
        Returns: Database["public"]["CompositeTypes"]["credit_summary"]
        SetofOptions: {
          from: "*"
          to: "credit_summary"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      get_credit_usage: {
        Args: { days?: number }
        Returns: {
          action: string
          credits: number
          day: string
          entries: number
          name_ar: string
          name_en: string
        }[]
      }
      get_hold: {
        Args: { hold_id: string }
        Returns: Database["public"]["CompositeTypes"]["hold_state"]
        SetofOptions: {
          from: "*"
          to: "hold_state"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      get_payment: {
        Args: { order_id: string; user_id: string }
        Returns: Database["public"]["CompositeTypes"]["payment_state"]
        SetofOptions: {
          from: "*"
          to: "payment_state"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      grant_credits: {
        Args: {
          amount: number
          description?: string
          expires_at: string
          idempotency_key: string
          source: string
          user_id: string
        }
        Returns: Database["public"]["CompositeTypes"]["credit_grant"]
        SetofOptions: {
          from: "*"
          to: "credit_grant"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      hit_rate_limit: {
        Args: { bucket: string; max_hits: number; window_seconds: number }
        Returns: Database["public"]["CompositeTypes"]["rate_limit_hit"]
        SetofOptions: {
          from: "*"
          to: "rate_limit_hit"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      lookup_payment_event: {
        Args: {
          order_id: string
          provider: string
          result: string
          track_id: string
        }
        Returns: Database["public"]["CompositeTypes"]["payment_event_lookup"]
        SetofOptions: {
          from: "*"
          to: "payment_event_lookup"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      preview_checkout: {
        Args: { plan: string; user_id: string }
        Returns: Database["public"]["CompositeTypes"]["checkout_quote"]
        SetofOptions: {
          from: "*"
          to: "checkout_quote"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      reconcile_candidates: {
        Args: { max_rows?: number }
        Returns: Database["public"]["CompositeTypes"]["reconcile_candidate"][]
        SetofOptions: {
          from: "*"
          to: "reconcile_candidate"
          isOneToOne: false
          isSetofReturn: true
        }
      }
      record_checkout_error: {
        Args: { error: string; order_id: string }
        Returns: Database["public"]["CompositeTypes"]["payment_state"]
        SetofOptions: {
          from: "*"
          to: "payment_state"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      record_payment_event: {
        Args: {
          notified_result: string
          payload: Json
          provider: string
          track_id: string
          verified: Json
        }
        Returns: Database["public"]["CompositeTypes"]["payment_event_result"]
        SetofOptions: {
          from: "*"
          to: "payment_event_result"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      record_status_check: {
        Args: { order_id: string; verified: Json }
        Returns: Database["public"]["CompositeTypes"]["status_check_result"]
        SetofOptions: {
          from: "*"
          to: "status_check_result"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      refund_batch: {
        Args: { max_rows?: number }
        Returns: Database["public"]["CompositeTypes"]["refund_batch_item"][]
        SetofOptions: {
          from: "*"
          to: "refund_batch_item"
          isOneToOne: false
          isSetofReturn: true
        }
      }
      refund_transaction: {
        Args: {
          idempotency_key: string
          reason: string
          transaction_id: string
          user_id: string
        }
        Returns: Database["public"]["CompositeTypes"]["credit_refund"]
        SetofOptions: {
          from: "*"
          to: "credit_refund"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      release_hold: {
        Args: { failure_reason?: string; hold_id: string; user_id: string }
        Returns: Database["public"]["CompositeTypes"]["credit_release"]
        SetofOptions: {
          from: "*"
          to: "credit_release"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      request_refund: {
        Args: { order_id: string; reason: string }
        Returns: Database["public"]["CompositeTypes"]["refund_result"]
        SetofOptions: {
          from: "*"
          to: "refund_result"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      reserve_credits: {
        Args: { action: string; idempotency_key: string }
        Returns: Database["public"]["CompositeTypes"]["credit_hold"]
        SetofOptions: {
          from: "*"
          to: "credit_hold"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      run_credit_sweepers: {
        Args: Record<PropertyKey, never>
        Returns: Database["public"]["CompositeTypes"]["credit_sweep"]
        SetofOptions: {
          from: "*"
          to: "credit_sweep"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      run_payment_jobs: {
        Args: Record<PropertyKey, never>
        Returns: Database["public"]["CompositeTypes"]["payment_jobs_result"]
        SetofOptions: {
          from: "*"
          to: "payment_jobs_result"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      schedule_plan_change: {
        Args: { plan: string; user_id: string }
        Returns: Database["public"]["CompositeTypes"]["plan_change"]
        SetofOptions: {
          from: "*"
          to: "plan_change"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      set_cancel_at_period_end: {
        Args: { cancel: boolean; user_id: string }
        Returns: Database["public"]["CompositeTypes"]["subscription_state"]
        SetofOptions: {
          from: "*"
          to: "subscription_state"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      set_domain_contact: {
        Args: { contact: Json }
        Returns: Database["public"]["CompositeTypes"]["domain_contact"]
        SetofOptions: {
          from: "*"
          to: "domain_contact"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      spend_credits: {
        Args: { action: string; description?: string; idempotency_key: string }
        Returns: Database["public"]["CompositeTypes"]["credit_spend"]
        SetofOptions: {
          from: "*"
          to: "credit_spend"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      storage_cleanup_batch: {
        Args: { max_projects?: number }
        Returns: Database["public"]["CompositeTypes"]["storage_cleanup_item"][]
        SetofOptions: {
          from: "*"
          to: "storage_cleanup_item"
          isOneToOne: false
          isSetofReturn: true
        }
      }
      take_status_call: {
        Args: { priority: string }
        Returns: Database["public"]["CompositeTypes"]["status_call"]
        SetofOptions: {
          from: "*"
          to: "status_call"
          isOneToOne: true
          isSetofReturn: false
        }
      }
    }
    Enums: {
      [_ in never]: never
    }
    CompositeTypes: {
      api_error: {
        code: string | null
        message: string | null
        details: string | null
        hint: string | null
      }
      checkout_proration: {
        from_plan: string | null
        from_price_kwd: number | null
        to_price_kwd: number | null
        period_end: string | null
        fraction: number | null
        credits: number | null
      }
      checkout_quote: {
        plan: string | null
        kind: string | null
        amount_kwd: number | null
        currency: string | null
        proration:
          | Database["public"]["CompositeTypes"]["checkout_proration"]
          | null
      }
      credit_capture: {
        transaction_id: string | null
        hold_id: string | null
        charged: number | null
        released: number | null
        balance: number | null
      }
      credit_grant: {
        transaction_id: string | null
        grant_id: string | null
        amount: number | null
        expires_at: string | null
        balance: number | null
      }
      credit_hold: {
        hold_id: string | null
        amount: number | null
        expires_at: string | null
        balance: number | null
      }
      credit_refund: {
        transaction_id: string | null
        refunded: number | null
        forfeited: number | null
        balance: number | null
      }
      credit_release: {
        transaction_id: string | null
        hold_id: string | null
        status: string | null
        released: number | null
        balance: number | null
        failure_reason: string | null
        error: Database["public"]["CompositeTypes"]["api_error"] | null
      }
      credit_spend: {
        transaction_id: string | null
        charged: number | null
        balance: number | null
      }
      credit_summary: {
        balance: number | null
        plan: Database["public"]["CompositeTypes"]["credit_summary_plan"] | null
        period_end: string | null
        daily_bonus:
          | Database["public"]["CompositeTypes"]["credit_summary_bonus"]
          | null
        held: number | null
        active_holds:
          | Database["public"]["CompositeTypes"]["credit_summary_hold"][]
          | null
        grants:
          | Database["public"]["CompositeTypes"]["credit_summary_grant"][]
          | null
      }
      credit_summary_bonus: {
        amount: number | null
        remaining: number | null
        resets_at: string | null
      }
      credit_summary_grant: {
        source: string | null
        remaining: number | null
        expires_at: string | null
      }
      credit_summary_hold: {
        hold_id: string | null
        action: string | null
        amount: number | null
        expires_at: string | null
      }
      credit_summary_plan: {
        code: string | null
        name_ar: string | null
        name_en: string | null
        monthly_credits: number | null
        daily_bonus: number | null
      }
      credit_sweep: {
        holds_released: number | null
        grants_expired: number | null
      }
      domain_contact: {
        first_name: string | null
        last_name: string | null
        organization: string | null
        address1: string | null
        address2: string | null
        city: string | null
        state_province: string | null
        postal_code: string | null
        country: string | null
        phone: string | null
        email: string | null
        updated_at: string | null
      }
      hold_extension: {
        hold_id: string | null
        expires_at: string | null
        extensions_left: number | null
      }
      hold_state: {
        hold_id: string | null
        action: string | null
        amount: number | null
        status: string | null
        captured_amount: number | null
        expires_at: string | null
      }
      payment_event_lookup: {
        event_final: boolean | null
        event_outcome: string | null
        payment_known: boolean | null
        order_id: string | null
        payment_status: string | null
      }
      payment_event_result: {
        event_id: number | null
        duplicate: boolean | null
        outcome: string | null
        final: boolean | null
        status_disagrees: boolean | null
        payment: Database["public"]["CompositeTypes"]["payment_state"] | null
      }
      payment_jobs_result: {
        subscriptions_ended: number | null
        subscription_credits_expired: number | null
        checkouts_abandoned: number | null
        holds_released: number | null
        grants_expired: number | null
        domain_orders_cancelled: number | null
        domains_lapsed: number | null
        domains_renewal_due: number | null
        registrar_budget_rows_deleted: number | null
        rate_limit_rows_deleted: number | null
      }
      payment_result: {
        payment_id: string | null
        order_id: string | null
        user_id: string | null
        purpose: string | null
        plan: string | null
        credit_pack: string | null
        kind: string | null
        amount_kwd: number | null
        currency: string | null
        payment_method: string | null
        status: string | null
        status_reason: string | null
        fulfilment: string | null
        credits_granted: number | null
        proration:
          | Database["public"]["CompositeTypes"]["checkout_proration"]
          | null
        track_id: string | null
        payment_url: string | null
        created_at: string | null
        paid_at: string | null
        closed_at: string | null
        replay: boolean | null
      }
      payment_state: {
        payment_id: string | null
        order_id: string | null
        user_id: string | null
        purpose: string | null
        plan: string | null
        credit_pack: string | null
        kind: string | null
        amount_kwd: number | null
        currency: string | null
        payment_method: string | null
        status: string | null
        status_reason: string | null
        fulfilment: string | null
        credits_granted: number | null
        proration:
          | Database["public"]["CompositeTypes"]["checkout_proration"]
          | null
        track_id: string | null
        payment_url: string | null
        created_at: string | null
        paid_at: string | null
        closed_at: string | null
      }
      plan_change: {
        plan: string | null
        status: string | null
        current_period_start: string | null
        current_period_end: string | null
        cancel_at_period_end: boolean | null
        scheduled_plan: string | null
        change_at: string | null
      }
      rate_limit_hit: {
        allowed: boolean | null
        hits: number | null
        limit: number | null
        retry_after: number | null
      }
      reconcile_candidate: {
        order_id: string | null
        track_id: string | null
        status: string | null
      }
      refund_batch_item: {
        refund_id: string | null
        order_id: string | null
        track_id: string | null
        amount_kwd: number | null
      }
      refund_result: {
        refund_id: string | null
        order_id: string | null
        origin: string | null
        amount_kwd: number | null
        status: string | null
        reason: string | null
        credits_clawed_back: number | null
        credits_shortfall: number | null
        note: string | null
        last_error: string | null
        completed_at: string | null
        replay: boolean | null
      }
      status_call: {
        allowed: boolean | null
        priority: string | null
        retry_after: number | null
      }
      status_check_result: {
        outcome: string | null
        payment: Database["public"]["CompositeTypes"]["payment_state"] | null
      }
      storage_cleanup_item: {
        project_id: string | null
        bucket_id: string | null
        names: string[] | null
      }
      storage_cleanup_result: {
        project_id: string | null
        remaining: number | null
        done: boolean | null
      }
      subscription_state: {
        plan: string | null
        status: string | null
        current_period_start: string | null
        current_period_end: string | null
        cancel_at_period_end: boolean | null
      }
    }
  }
}

type DatabaseWithoutInternals = Omit<Database, "__InternalSupabase">

type DefaultSchema = DatabaseWithoutInternals[Extract<keyof Database, "public">]

export type Tables<
  DefaultSchemaTableNameOrOptions extends
    | keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
        DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
      DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])[TableName] extends {
      Row: infer R
    }
    ? R
    : never
  : DefaultSchemaTableNameOrOptions extends keyof (DefaultSchema["Tables"] &
        DefaultSchema["Views"])
    ? (DefaultSchema["Tables"] &
        DefaultSchema["Views"])[DefaultSchemaTableNameOrOptions] extends {
        Row: infer R
      }
      ? R
      : never
    : never

export type TablesInsert<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Insert: infer I
    }
    ? I
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
        Insert: infer I
      }
      ? I
      : never
    : never

export type TablesUpdate<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Update: infer U
    }
    ? U
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
        Update: infer U
      }
      ? U
      : never
    : never

export type Enums<
  DefaultSchemaEnumNameOrOptions extends
    | keyof DefaultSchema["Enums"]
    | { schema: keyof DatabaseWithoutInternals },
  EnumName extends (DefaultSchemaEnumNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"]
    : never) = never,
> = DefaultSchemaEnumNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"][EnumName]
  : DefaultSchemaEnumNameOrOptions extends keyof DefaultSchema["Enums"]
    ? DefaultSchema["Enums"][DefaultSchemaEnumNameOrOptions]
    : never

export type CompositeTypes<
  PublicCompositeTypeNameOrOptions extends
    | keyof DefaultSchema["CompositeTypes"]
    | { schema: keyof DatabaseWithoutInternals },
  CompositeTypeName extends (PublicCompositeTypeNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"]
    : never) = never,
> = PublicCompositeTypeNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"][CompositeTypeName]
  : PublicCompositeTypeNameOrOptions extends keyof DefaultSchema["CompositeTypes"]
    ? DefaultSchema["CompositeTypes"][PublicCompositeTypeNameOrOptions]
    : never

export const Constants = {
  public: {
    Enums: {},
  },
} as const

